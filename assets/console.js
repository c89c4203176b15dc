// The staff console's one enhancement: copy buttons for the embed snippet. Without
// JavaScript the buttons stay hidden and the snippet is selectable text.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!target || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.value || target.textContent).then(
        function () {
          if (status) {
            status.textContent = "Copied to the clipboard.";
          }
        },
        function () {
          if (status) {
            status.textContent = "Could not copy: select the text and copy it.";
          }
        }
      );
    });
  });
})();
