/*! cx-survey widget: OMB A-11 Section 280 post-transaction survey. CC0 1.0. */
/*
 * Embed:
 *   <script src="https://SERVICE/widget.js" data-deployment="ID" data-mode="modal|button|inline"
 *           data-target="#selector" data-locale="es" defer></script>
 * Plain ES2017, no dependencies. Builds every node with createElement/textContent, never writes
 * inline styles, so it runs under `default-src 'none'; script-src SERVICE; style-src SERVICE;
 * connect-src SERVICE`. The only global is window.CxSurvey.
 */
(function () {
  'use strict';

  var VERSION = '1.0.0';
  var PREFIX = 'cx-survey:pending:';
  var FIRST_WAIT = 8000; // ms to wait for the first attempt before thanking anyway
  var MAX_AGE = 30 * 864e5; // a pending response older than this, tried 10+ times, is abandoned
  var SVG = 'http://www.w3.org/2000/svg';

  var STR = {
    en: {
      feedback: 'Feedback',
      about: 'survey about',
      close: 'Close',
      required: 'Required',
      requiredNote: 'Questions marked “Required” must be answered.',
      submit: 'Submit',
      sending: 'Sending…',
      thanks: 'Thank you for your feedback.',
      queued: 'We could not reach the server. Your response is saved on this device and will be sent when the connection returns.',
      sent: 'Your response has been sent.',
      omb: 'OMB Control No.',
      expires: 'Expires',
      pra: 'Paperwork Reduction Act statement',
      newTab: '(opens in a new tab)',
      problem: 'There is a problem with your response. Please review the marked questions.',
      errRequired: 'Please answer this question.',
      errTooLong: 'Please use {n} characters or fewer.',
      errGone: 'This survey is no longer accepting responses.',
      errGeneric: 'Your response could not be sent. Please try again.',
      error: 'Error:',
      left: function (n) { return n === 1 ? '1 character left' : n + ' characters left'; },
      date: function (y, m, d) { return m + '/' + d + '/' + y; }
    },
    es: {
      feedback: 'Comentarios',
      about: 'encuesta sobre',
      close: 'Cerrar',
      required: 'Obligatoria',
      requiredNote: 'Debe responder las preguntas marcadas como “Obligatoria”.',
      submit: 'Enviar',
      sending: 'Enviando…',
      thanks: 'Gracias por sus comentarios.',
      queued: 'No pudimos comunicarnos con el servidor. Su respuesta se guardó en este dispositivo y se enviará cuando se restablezca la conexión.',
      sent: 'Su respuesta ha sido enviada.',
      omb: 'N.º de control de la OMB',
      expires: 'Vence el',
      pra: 'Declaración de la Ley de Reducción de Trámites',
      newTab: '(se abre en una pestaña nueva)',
      problem: 'Hay un problema con su respuesta. Revise las preguntas marcadas.',
      errRequired: 'Responda esta pregunta.',
      errTooLong: 'Use {n} caracteres o menos.',
      errGone: 'Esta encuesta ya no acepta respuestas.',
      errGeneric: 'No se pudo enviar su respuesta. Inténtelo de nuevo.',
      error: 'Error:',
      left: function (n) { return n === 1 ? 'Queda 1 carácter' : 'Quedan ' + n + ' caracteres'; },
      date: function (y, m, d) {
        var months = ['enero', 'febrero', 'marzo', 'abril', 'mayo', 'junio', 'julio', 'agosto',
          'septiembre', 'octubre', 'noviembre', 'diciembre'];
        return Number(d) + ' de ' + months[Number(m) - 1] + ' de ' + y;
      }
    }
  };

  var current = document.currentScript; // only valid now, while this file first runs
  var G = window.CxSurvey;
  if (!G || !G._core) {
    G = createCore();
    window.CxSurvey = G;
  }
  G._core.add(current);

  function createCore() {
    var widgets = {}; // deployment id -> widget
    var seen = typeof WeakSet === 'function' ? new WeakSet() : null;
    var impressed = {};
    var css = {};
    var inflight = {};
    var timers = {};
    var mem = {};
    var seq = 0;
    var store = (function () {
      try {
        var s = window.localStorage;
        s.setItem('cx-survey:probe', '1');
        s.removeItem('cx-survey:probe');
        return s;
      } catch (e) {
        return null;
      }
    })();

    // ---- the queue: a response is stored before it is sent, removed once the server has it ----
    function save(id, entry) {
      if (store) {
        try {
          store.setItem(PREFIX + id, JSON.stringify(entry));
          delete mem[id];
          return;
        } catch (e) { /* full or blocked: keep it in memory */ }
      }
      mem[id] = entry;
    }
    function load(id) {
      if (mem[id]) return mem[id];
      if (!store) return null;
      try {
        var v = store.getItem(PREFIX + id);
        return v ? JSON.parse(v) : null;
      } catch (e) {
        return null;
      }
    }
    function drop(id) {
      delete mem[id];
      if (store) {
        try { store.removeItem(PREFIX + id); } catch (e) { /* ignore */ }
      }
    }
    function pending() {
      var ids = Object.keys(mem);
      if (store) {
        try {
          for (var i = 0; i < store.length; i++) {
            var k = store.key(i);
            if (k && k.indexOf(PREFIX) === 0 && ids.indexOf(k.slice(PREFIX.length)) < 0) {
              ids.push(k.slice(PREFIX.length));
            }
          }
        } catch (e) { /* ignore */ }
      }
      return ids;
    }

    function emit(dep, type, detail, target) {
      var w = widgets[dep];
      var el = target || (w && w.root && w.root.isConnected ? w.root : document);
      detail.deployment = dep;
      el.dispatchEvent(new CustomEvent('cx-survey:' + type, { bubbles: true, detail: detail }));
    }

    function retryAfter(h) {
      if (!h) return null;
      var n = Number(h);
      if (isFinite(n)) return Math.max(0, n);
      var t = Date.parse(h);
      return isNaN(t) ? null : Math.max(0, (t - Date.now()) / 1000);
    }

    // Jittered, so the pages an outage held back do not all resend in the same second after it:
    // Retry-After is a floor with up to a fifth (1 s at least, 60 s at most) added; without
    // it, "equal jitter" on the doubling backoff (between half of it and all of it).
    function schedule(id, attempts, ra) {
      clearTimeout(timers[id]);
      var secs = retryAfter(ra);
      var delay;
      if (secs !== null) {
        secs = Math.min(secs, 3600);
        delay = secs + Math.random() * Math.min(60, Math.max(1, secs / 5));
      } else {
        var cap = Math.min(60, Math.pow(2, Math.max(0, attempts - 1)));
        delay = cap / 2 + Math.random() * (cap / 2);
      }
      timers[id] = setTimeout(function () { send(id); }, delay * 1000);
    }

    function send(id) {
      if (inflight[id]) return inflight[id];
      clearTimeout(timers[id]);
      delete timers[id];
      var e = load(id);
      if (!e || !e.api || !e.deployment || !e.body) {
        drop(id);
        return Promise.resolve({ ok: false, status: 0 });
      }
      if (e.created && Date.now() - e.created > MAX_AGE && e.attempts >= 10) {
        drop(id);
        emit(e.deployment, 'error', { submission_id: id, status: 0 });
        return Promise.resolve({ ok: false, status: 0 });
      }
      e.attempts = (e.attempts || 0) + 1;
      save(id, e);
      var p = fetch(endpoint(e.api, e.deployment, '/responses'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(e.body),
        credentials: 'omit',
        cache: 'no-store'
      }).then(function (res) {
        var s = res.status;
        if (s === 200 || s === 201) {
          drop(id);
          emit(e.deployment, 'submitted', { submission_id: id, status: s });
          return { ok: true, status: s };
        }
        if (s === 408 || s === 429 || s >= 500) {
          schedule(id, e.attempts, res.headers.get('Retry-After'));
          return { ok: false, retry: true, status: s };
        }
        // Any other 4xx can never succeed.
        return res.json().catch(function () { return null; }).then(function (problem) {
          drop(id);
          emit(e.deployment, 'error', { submission_id: id, status: s });
          return { ok: false, status: s, problem: problem };
        });
      }, function () {
        // Offline, server down, or an error answer the browser hid from us (no CORS headers).
        schedule(id, e.attempts, null);
        return { ok: false, retry: true, status: 0 };
      }).then(function (r) {
        delete inflight[id];
        return r;
      });
      inflight[id] = p;
      return p;
    }

    function flush() {
      return Promise.all(pending().map(send));
    }

    function open(dep) {
      var w = dep ? widgets[dep] : widgets[Object.keys(widgets)[0]];
      if (w) w.open(document.activeElement);
      return !!w;
    }

    function add(el) {
      var list = el ? [el] : document.querySelectorAll('script[data-deployment]');
      for (var i = 0; i < list.length; i++) {
        var s = list[i];
        if (seen) {
          if (seen.has(s)) continue;
          seen.add(s);
        }
        var dep = s.getAttribute('data-deployment');
        if (!dep || widgets[dep]) continue; // one survey per deployment per page view
        widgets[dep] = makeWidget(s, dep);
      }
    }

    function stylesheet(href) {
      if (css[href]) return css[href];
      var links = document.querySelectorAll('link[rel="stylesheet"]');
      var link = null;
      for (var i = 0; i < links.length; i++) {
        if (links[i].href === href) link = links[i];
      }
      css[href] = new Promise(function (resolve) {
        if (link && link.sheet) return resolve(true);
        if (!link) {
          link = document.createElement('link');
          link.rel = 'stylesheet';
          link.href = href;
          (document.head || document.documentElement).appendChild(link);
        }
        link.addEventListener('load', function () { resolve(true); });
        link.addEventListener('error', function () { resolve(false); });
      });
      return css[href];
    }

    function impression(w) {
      if (impressed[w.dep]) return;
      impressed[w.dep] = true;
      fetch(endpoint(w.api, w.dep, '/impressions'), { method: 'POST', credentials: 'omit', keepalive: true })
        .catch(function () { /* an impression is not worth a retry queue */ });
      emit(w.dep, 'shown', {});
    }

    function closeOthers(except) {
      Object.keys(widgets).forEach(function (k) {
        if (widgets[k] !== except && widgets[k].isOpen()) widgets[k].close(false);
      });
    }

    // ---- one embedded survey ----
    function makeWidget(s, dep) {
      var pfx = 'cxs' + (++seq) + '-';
      var mode = s.getAttribute('data-mode');
      if (mode !== 'button' && mode !== 'inline') mode = 'modal';
      // The stylesheet sits next to the script; the API is at the script's origin unless data-api says.
      var src;
      try { src = new URL(s.src, location.href); } catch (e) { src = new URL(location.href); }
      var api = (s.getAttribute('data-api') || src.origin).replace(/\/+$/, '');
      var want = (s.getAttribute('data-locale') || document.documentElement.lang || 'en').slice(0, 2).toLowerCase();
      var t = STR[want] || STR.en;
      var wantOpen = null;
      var w = {
        dep: dep, api: api, root: null,
        isOpen: function () { return false; },
        // Before mount, remember the request (the host may call open() early).
        open: function (o) { wantOpen = o || true; },
        close: function () {}
      };
      var data, root, overlay, dialog, fab, trigger, opener, qs = [], form, alertBox, submitBtn, thanks, note, hp, sid;
      var busy = false, done = false;

      var cssReady = stylesheet(new URL('widget.css', src).href);
      var dataReady = fetch(endpoint(api, dep, '?locale=' + encodeURIComponent(want)), { credentials: 'omit' })
        .then(function (r) { return r.ok ? r.json() : { failed: r.status }; })
        .catch(function () { return { failed: 0 }; }); // also any error answer without CORS headers

      Promise.all([dataReady, cssReady, domReady()]).then(function (v) {
        data = v[0];
        var failed = data.failed;
        var target = null;
        if (mode !== 'modal') {
          var sel = s.getAttribute('data-target');
          try { target = sel ? document.querySelector(sel) : null; } catch (e) { target = null; }
        }
        // 404, 410 (clearance expired, closed), 403 (origin), offline, no stylesheet: show nothing.
        if (failed !== undefined || data.status !== 'open' || !Array.isArray(data.questions) || !v[1] || (mode !== 'modal' && !target)) {
          if (mode === 'button' && target && failed !== undefined) target.hidden = true; // no dead button
          emit(dep, 'error', { status: failed || 0 }, s.isConnected ? s : document);
          return;
        }
        t = STR[data.locale] || t;
        mount(target);
      });

      function mount(target) {
        root = h('div', { class: 'cxs-root cxs-' + mode, 'data-cx-survey': dep, lang: data.locale || want });
        w.root = root;
        w.open = open;
        var panel = buildPanel();
        if (mode === 'inline') {
          root.appendChild(panel);
          target.appendChild(root);
          whenVisible(root, function () { impression(w); });
          if (wantOpen) open();
          return;
        }
        var closeBtn = h('button', { type: 'button', class: 'cxs-close', 'aria-label': t.close }, [icon('close')]);
        closeBtn.addEventListener('click', function () { close(true); });
        panel.firstChild.appendChild(closeBtn); // into the header, after the title
        dialog = h('div', { class: 'cxs-dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': pfx + 'title' }, [panel]);
        overlay = h('div', { class: 'cxs-overlay', hidden: true }, [h('div', { class: 'cxs-frame' }, [dialog])]);
        overlay.addEventListener('mousedown', function (e) {
          if (e.target === overlay || e.target === overlay.firstChild) close(true);
        });
        dialog.addEventListener('keydown', trap);
        root.appendChild(overlay);
        if (mode === 'modal') {
          var n = document.querySelectorAll('.cxs-root.cxs-modal').length;
          fab = h('button', { type: 'button', class: 'cxs-fab cxs-stack-' + Math.min(n, 3), 'aria-haspopup': 'dialog' }, [
            icon('chat'), h('span', { text: t.feedback }), h('span', { class: 'cxs-sr', text: ' – ' + t.about + ' ' + data.service.name })
          ]);
          fab.addEventListener('click', function () { open(fab); });
          root.insertBefore(fab, overlay);
        } else {
          trigger = target;
          trigger.setAttribute('aria-haspopup', 'dialog');
          trigger.addEventListener('click', function (e) {
            e.preventDefault();
            open(trigger);
          });
        }
        document.body.appendChild(root);
        w.isOpen = function () { return !overlay.hidden; };
        w.close = close;
        if (wantOpen) open(wantOpen === true ? null : wantOpen);
      }
      function open(from) {
        if (mode === 'inline') {
          root.scrollIntoView({ block: 'start' });
          focusTitle();
          return;
        }
        if (!overlay.hidden) return;
        closeOthers(w);
        opener = from && from !== document.body ? from : (mode === 'modal' ? fab : trigger);
        overlay.hidden = false;
        root.classList.add('cxs-open');
        document.addEventListener('keydown', onKey, true);
        document.addEventListener('focusin', keepFocus, true);
        focusTitle();
        impression(w);
      }

      function close(restore) {
        if (!overlay || overlay.hidden) return;
        overlay.hidden = true;
        root.classList.remove('cxs-open');
        document.removeEventListener('keydown', onKey, true);
        document.removeEventListener('focusin', keepFocus, true);
        if (restore !== false && opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      }

      function onKey(e) {
        if (e.key === 'Escape' || e.key === 'Esc') {
          e.preventDefault();
          close(true);
        }
      }

      function keepFocus(e) {
        if (!dialog.contains(e.target)) focusables()[0].focus();
      }

      function focusables() {
        var all = dialog.querySelectorAll('a[href],button,input,textarea,select,[tabindex]');
        var out = [];
        for (var i = 0; i < all.length; i++) {
          var el = all[i];
          if (el.disabled || el.tabIndex < 0 || !el.getClientRects().length) continue;
          if (el.type === 'radio' && !el.checked && radioGroupHasChecked(el)) continue;
          out.push(el);
        }
        return out.length ? out : [dialog];
      }

      function radioGroupHasChecked(el) {
        return !!dialog.querySelector('input[type="radio"][name="' + el.name + '"]:checked');
      }

      function trap(e) {
        if (e.key !== 'Tab') return;
        var f = focusables();
        var first = f[0], last = f[f.length - 1];
        var a = document.activeElement;
        var firstRadio = first.type === 'radio' && a && a.type === 'radio' && a.name === first.name;
        if (e.shiftKey && (a === first || firstRadio || a === dialog || a === titleEl())) {
          e.preventDefault();
          last.focus();
        } else if (!e.shiftKey && (a === last || (last.type === 'radio' && a && a.name === last.name))) {
          e.preventDefault();
          first.focus();
        }
      }

      function titleEl() { return root.querySelector('.cxs-title'); }

      function focusTitle() {
        var el = done ? thanks : titleEl();
        el.focus({ preventScroll: mode !== 'inline' });
      }

      // ---- the form ----
      function buildPanel() {
        var title = h('h2', { class: 'cxs-title', id: pfx + 'title', tabindex: '-1', text: data.instrument.title });
        var head = h('div', { class: 'cxs-head' }, [title]);
        alertBox = h('div', { class: 'cxs-alert', role: 'alert', id: pfx + 'alert' });
        form = h('form', { class: 'cxs-form', novalidate: true, 'aria-labelledby': pfx + 'title' });
        form.appendChild(h('p', { class: 'cxs-note', text: t.requiredNote }));
        form.appendChild(alertBox);
        data.questions.forEach(function (q) {
          var Q = q.type === 'drivers' ? checkQ(q) : q.type === 'text' ? textQ(q) : radioQ(q);
          if (Q) {
            qs.push(Q);
            form.appendChild(Q.el);
          }
        });
        if (data.honeypot_field) {
          hp = h('input', { type: 'text', name: data.honeypot_field, id: pfx + 'hp', tabindex: '-1', autocomplete: 'off', 'aria-hidden': 'true' });
          form.appendChild(h('div', { class: 'cxs-hp', 'aria-hidden': 'true' }, [
            h('label', { for: pfx + 'hp', text: data.honeypot_field.replace(/_/g, ' ') }), hp
          ]));
        }
        submitBtn = h('button', { type: 'submit', class: 'cxs-submit', text: t.submit });
        form.appendChild(h('div', { class: 'cxs-actions' }, [submitBtn]));
        form.addEventListener('submit', submit);
        note = h('p', { class: 'cxs-thanks-note', role: 'status' });
        thanks = h('div', { class: 'cxs-thanks', tabindex: '-1', hidden: true }, [
          h('p', { class: 'cxs-thanks-title', text: t.thanks }), note
        ]);
        sync();
        return h('div', { class: 'cxs-panel' }, [head, form, thanks, praFooter()]);
      }

      function praFooter() {
        var pra = data.pra || {};
        var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(pra.expiration_date || '');
        var line = t.omb + ' ' + pra.omb_control_number + (m ? ' · ' + t.expires + ' ' + t.date(m[1], m[2], m[3]) : '');
        var kids = [h('p', { class: 'cxs-omb', text: line })];
        if (pra.burden_statement) kids.push(h('p', { text: pra.burden_statement }));
        if (/^https:\/\//.test(pra.federal_register_url || '')) {
          kids.push(h('p', null, [h('a', { href: pra.federal_register_url, target: '_blank', rel: 'noopener noreferrer' }, [
            t.pra, h('span', { class: 'cxs-sr', text: ' ' + t.newTab })
          ])]));
        }
        return h('div', { class: 'cxs-pra' }, kids);
      }

      function legend(q, tag, forId) {
        var el = h(tag, { class: 'cxs-legend', for: forId || null }, [q.text]);
        if (q.required) {
          el.appendChild(document.createTextNode(' '));
          el.appendChild(h('span', { class: 'cxs-req', text: '(' + t.required + ')' }));
        }
        return el;
      }

      function shell(q, tag, forId) {
        var id = pfx + q.key;
        var el = h(tag, { class: 'cxs-q cxs-q-' + q.type, id: id + '-q' }, [legend(q, tag === 'fieldset' ? 'legend' : 'label', forId)]);
        if (q.hint) el.appendChild(h('p', { class: 'cxs-hint', id: id + '-hint', text: q.hint }));
        var err = h('p', { class: 'cxs-err', id: id + '-err', hidden: true });
        el.appendChild(err);
        if (q.show_if) el.hidden = true;
        return {
          q: q, el: el, err: err, inputs: [],
          desc: q.hint ? id + '-hint' : '',
          errText: function (msg) {
            err.textContent = '';
            if (msg) err.appendChild(h('span', { class: 'cxs-sr', text: t.error + ' ' }));
            if (msg) err.appendChild(document.createTextNode(msg));
            err.hidden = !msg;
            el.classList.toggle('cxs-invalid', !!msg);
            this.inputs.forEach(function (i) {
              var d = (this.extraDesc || this.desc) + (msg ? ' ' + err.id : '');
              if (msg) i.setAttribute('aria-invalid', 'true'); else i.removeAttribute('aria-invalid');
              if (d.trim()) i.setAttribute('aria-describedby', d.trim()); else i.removeAttribute('aria-describedby');
            }, this);
          }
        };
      }

      function radioQ(q) {
        if (!Array.isArray(q.choices)) return null;
        var Q = shell(q, 'fieldset');
        var list = h('div', { class: 'cxs-choices' });
        q.choices.forEach(function (c) {
          var iid = pfx + q.key + '-' + c.value;
          var input = h('input', { type: 'radio', id: iid, name: pfx + q.key, value: String(c.value), required: !!q.required });
          input.addEventListener('change', sync);
          Q.inputs.push(input);
          var kids = [input, h('span', { text: c.label })];
          if (q.type === 'thumbs') kids.splice(1, 0, icon(c.value === 1 ? 'up' : 'down'));
          list.appendChild(h('label', { class: 'cxs-choice', for: iid }, kids));
        });
        Q.el.appendChild(list);
        Q.value = function () {
          for (var i = 0; i < Q.inputs.length; i++) if (Q.inputs[i].checked) return Number(Q.inputs[i].value);
          return null;
        };
        Q.errText('');
        return Q;
      }

      function checkQ(q) {
        if (!Array.isArray(q.options)) return null;
        var Q = shell(q, 'fieldset');
        if (Q.desc) Q.el.setAttribute('aria-describedby', Q.desc);
        var list = h('div', { class: 'cxs-choices' });
        q.options.forEach(function (o) {
          var iid = pfx + q.key + '-' + o.key;
          var input = h('input', { type: 'checkbox', id: iid, name: pfx + q.key, value: o.key });
          Q.inputs.push(input);
          list.appendChild(h('label', { class: 'cxs-choice', for: iid }, [input, h('span', { text: o.label })]));
        });
        Q.el.appendChild(list);
        Q.value = function () {
          var v = Q.inputs.filter(function (i) { return i.checked; }).map(function (i) { return i.value; });
          return v.length ? v : null;
        };
        Q.desc = ''; // the group carries the hint
        Q.errText('');
        return Q;
      }

      function textQ(q) {
        var id = pfx + q.key;
        var Q = shell(q, 'div', id);
        var max = q.max_length || 5000;
        var ta = h('textarea', { id: id, name: q.key, rows: '4', maxlength: String(max) });
        var count = h('p', { class: 'cxs-count', id: id + '-count', 'aria-hidden': 'true' });
        var live = h('p', { class: 'cxs-sr', 'aria-live': 'polite' });
        var timer;
        function update(announce) {
          count.textContent = t.left(Math.max(0, max - ta.value.length));
          clearTimeout(timer);
          if (announce) timer = setTimeout(function () { live.textContent = count.textContent; }, 1000);
        }
        ta.addEventListener('input', function () { update(true); });
        Q.inputs.push(ta);
        Q.extraDesc = ((Q.desc ? Q.desc + ' ' : '') + id + '-count');
        Q.el.appendChild(ta);
        Q.el.appendChild(count);
        Q.el.appendChild(live);
        Q.max = max;
        Q.value = function () {
          var v = ta.value.trim();
          return v ? v : null;
        };
        update(false);
        Q.errText('');
        return Q;
      }

      function trustValue() {
        for (var i = 0; i < qs.length; i++) if (qs[i].q.key === 'trust') return qs[i].value();
        return null;
      }

      // Show the driver list the trust answer reveals; a hidden list loses its answers.
      function sync() {
        var values = {};
        qs.forEach(function (Q) { values[Q.q.key] = Q.value(); });
        qs.forEach(function (Q) {
          var c = Q.q.show_if;
          if (!c) return;
          var show = (c.values || []).indexOf(values[c.question]) >= 0;
          if (!show) {
            Q.inputs.forEach(function (i) { i.checked = false; });
            Q.errText('');
          }
          Q.el.hidden = !show;
        });
        var Tq = qs.filter(function (Q) { return Q.q.key === 'trust'; })[0];
        if (Tq && trustValue() !== null && !Tq.err.hidden) Tq.errText('');
      }

      function clearErrors() {
        alertBox.textContent = '';
        qs.forEach(function (Q) { Q.errText(''); });
      }

      function showErrors(list, general) {
        var firstQ = null;
        list.forEach(function (e) {
          e.Q.errText(e.msg);
          if (!firstQ) firstQ = e.Q;
        });
        alertBox.textContent = '';
        alertBox.appendChild(h('p', { text: general || t.problem }));
        var el = firstQ && firstQ.inputs[0];
        if (el) {
          el.focus();
          if (mode === 'inline') el.scrollIntoView({ block: 'center' });
        } else {
          alertBox.setAttribute('tabindex', '-1');
          alertBox.focus();
        }
      }

      function validate() {
        var errs = [];
        qs.forEach(function (Q) {
          if (Q.el.hidden) return;
          var v = Q.value();
          if (Q.q.required && v === null) errs.push({ Q: Q, msg: t.errRequired });
          else if (Q.max && v && v.length > Q.max) errs.push({ Q: Q, msg: t.errTooLong.replace('{n}', Q.max) });
        });
        return errs;
      }

      function collect() {
        var answers = {};
        qs.forEach(function (Q) {
          if (Q.el.hidden) return;
          var v = Q.value();
          if (v !== null) answers[Q.q.key] = v;
        });
        var body = { submission_id: sid, answers: answers, locale: data.locale };
        // The server keeps scheme, host and path only; the query and fragment never leave the page.
        if (/^https?:$/.test(location.protocol)) body.page_url = (location.origin + location.pathname).slice(0, 2048);
        if (hp && hp.value) body[data.honeypot_field] = hp.value;
        return body;
      }

      function submit(e) {
        e.preventDefault();
        if (busy || done) return;
        clearErrors();
        var errs = validate();
        if (errs.length) return showErrors(errs);
        sid = sid || uuid();
        var id = sid;
        save(id, { deployment: dep, api: api, body: collect(), attempts: 0, created: Date.now() });
        busy = true;
        submitBtn.setAttribute('aria-disabled', 'true');
        submitBtn.textContent = t.sending;
        var timeout = new Promise(function (resolve) {
          setTimeout(function () { resolve({ ok: false, retry: true, slow: true }); }, FIRST_WAIT);
        });
        var attempt = send(id);
        Promise.race([attempt, timeout]).then(function (r) {
          busy = false;
          submitBtn.removeAttribute('aria-disabled');
          submitBtn.textContent = t.submit;
          if (r.ok) return thank('');
          if (r.retry) {
            thank(t.queued);
            // When the queued copy gets through later, say so.
            root.addEventListener('cx-survey:submitted', function onSent(ev) {
              if (ev.detail.submission_id !== id) return;
              root.removeEventListener('cx-survey:submitted', onSent);
              note.textContent = t.sent;
            });
            return;
          }
          if (r.status === 422 && r.problem && Array.isArray(r.problem.errors)) {
            var list = [], other = false;
            r.problem.errors.forEach(function (fe) {
              var m = /^answers\.([A-Za-z0-9_]+)/.exec(fe.field || '');
              var Q = m && qs.filter(function (x) { return x.q.key === m[1] && !x.el.hidden; })[0];
              if (Q) list.push({ Q: Q, msg: fe.detail });
              else other = true;
            });
            return showErrors(list, other && !list.length ? t.errGeneric : null);
          }
          sid = null; // nothing was stored under it
          showErrors([], r.status === 410 || r.status === 404 || r.status === 403 ? t.errGone : t.errGeneric);
        });
      }

      function thank(msg) {
        done = true;
        form.hidden = true;
        note.textContent = msg;
        thanks.hidden = false;
        thanks.focus({ preventScroll: mode !== 'inline' });
      }

      return w;
    }

    window.addEventListener('online', flush);
    setTimeout(flush, 0); // responses left over from earlier page views

    var api = { version: VERSION, flush: flush, open: open };
    Object.defineProperty(api, '_core', { value: { add: add } });
    return api;
  }

  // ---- helpers ----
  function endpoint(api, dep, rest) {
    return api + '/api/v1/deployments/' + encodeURIComponent(dep) + rest;
  }

  function h(tag, attrs, kids) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') el.textContent = v;
        else if (k === 'class') el.className = v;
        else if (k === 'hidden') el.hidden = !!v;
        else el.setAttribute(k, v === true ? '' : String(v));
      });
    }
    (kids || []).forEach(function (c) {
      if (c !== null && c !== undefined) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return el;
  }

  var ICONS = {
    up: 'M2 10h4v12H2zM8 21.5V10l4.6-6.4c.9-1.2 2.9-.6 2.7 1L14.6 9H20a2 2 0 0 1 2 2.4l-1.6 8.8A2.2 2.2 0 0 1 18.2 22H8.5z',
    chat: 'M3 3h18a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H9l-5 4v-4H3a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1zm3 5v2h12V8zm0 4v2h8v-2z',
    close: 'M5.3 3.9 12 10.6l6.7-6.7 1.4 1.4-6.7 6.7 6.7 6.7-1.4 1.4-6.7-6.7-6.7 6.7-1.4-1.4 6.7-6.7-6.7-6.7z'
  };

  function icon(name) {
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'cxs-icon');
    var path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', ICONS[name === 'down' ? 'up' : name]);
    path.setAttribute('fill', 'currentColor');
    if (name === 'down') path.setAttribute('transform', 'rotate(180 12 12)');
    svg.appendChild(path);
    return svg;
  }

  function uuid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    var b = new Uint8Array(16);
    c.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var x = Array.prototype.map.call(b, function (n) { return (n + 0x100).toString(16).slice(1); }).join('');
    return x.slice(0, 8) + '-' + x.slice(8, 12) + '-' + x.slice(12, 16) + '-' + x.slice(16, 20) + '-' + x.slice(20);
  }

  function domReady() {
    return new Promise(function (resolve) {
      if (document.readyState !== 'loading') resolve();
      else document.addEventListener('DOMContentLoaded', function () { resolve(); });
    });
  }

  function whenVisible(el, fn) {
    if (typeof IntersectionObserver !== 'function') return fn();
    var io = new IntersectionObserver(function (entries) {
      for (var i = 0; i < entries.length; i++) {
        if (entries[i].isIntersecting) {
          io.disconnect();
          fn();
          return;
        }
      }
    });
    io.observe(el);
  }
})();
