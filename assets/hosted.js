/*! cx-survey hosted page: progressive enhancement only; the form works without it. CC0 1.0. */
(function () {
  'use strict';
  var form = document.querySelector('form.cx-form');
  if (!form) return;
  document.documentElement.classList.add('cx-js');

  // Show only the driver list the trust answer reveals; a hidden list loses its answers.
  function trust() {
    var c = form.querySelector('input[name="trust"]:checked');
    return c ? c.value : null;
  }
  function sync() {
    var t = trust();
    var lists = form.querySelectorAll('[data-show-if-values]');
    for (var i = 0; i < lists.length; i++) {
      var show = t !== null && lists[i].getAttribute('data-show-if-values').split(' ').indexOf(t) >= 0;
      if (!show) {
        var boxes = lists[i].querySelectorAll('input[type="checkbox"]');
        for (var j = 0; j < boxes.length; j++) boxes[j].checked = false;
      }
      lists[i].hidden = !show;
    }
  }
  form.addEventListener('change', function (e) {
    if (e.target && e.target.name === 'trust') sync();
  });
  sync();

  // One submission per click: a double click would only repeat an idempotent post, but say so.
  var sent = false;
  form.addEventListener('submit', function (e) {
    if (sent) {
      e.preventDefault();
      return;
    }
    sent = true;
    var b = form.querySelector('button[type="submit"]');
    if (b) b.setAttribute('aria-disabled', 'true');
  });
  // Back from the thank-you page: the form may be submitted again (same submission id).
  window.addEventListener('pageshow', function () {
    sent = false;
    var b = form.querySelector('button[type="submit"]');
    if (b) b.removeAttribute('aria-disabled');
    sync();
  });

  // After an error the summary gets focus, so screen readers read it first.
  var summary = document.querySelector('.usa-alert--error');
  if (summary) {
    summary.setAttribute('tabindex', '-1');
    summary.focus();
  }
})();
