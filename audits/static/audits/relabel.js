// The labelling card's keyboard (progressive enhancement: the card is a plain POST form without it).
// 1–9 choose a label, u chooses "unsure", n focuses the note, Enter submits the chosen label,
// ← goes back to the item answered before (the "Previous item" link). While typing in the note,
// only Enter (submit) and Escape (leave the note) are shortcuts.
(function () {
  "use strict";

  function choose(form, key) {
    var choice = form.querySelector('.label-choice[data-key="' + key + '"] input[type=radio]');
    if (!choice) return false;
    choice.checked = true;
    choice.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function submit(form) {
    if (!form.querySelector("input[name=label]:checked")) {
      form.classList.add("needs-label");
      return;
    }
    if (form.dataset.sent) return; // one answer per Enter, however fast the keys come
    form.dataset.sent = "1";
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("answer-form");
    var previous = document.getElementById("previous");
    var note = form && form.querySelector("input[name=note]");
    if (form) {
      form.addEventListener("change", function () {
        form.classList.remove("needs-label");
      });
    }
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      var target = event.target;
      var typing = target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type === "text"));
      if (typing) {
        if (event.key === "Enter" && form && target === note) {
          event.preventDefault();
          submit(form);
        } else if (event.key === "Escape") {
          target.blur();
        }
        return;
      }
      if (event.key === "ArrowLeft" && previous) {
        event.preventDefault();
        window.location.href = previous.href;
        return;
      }
      if (!form) return;
      if (event.key === "Enter") {
        event.preventDefault();
        submit(form);
      } else if (/^[1-9]$/.test(event.key) || event.key === "u") {
        if (choose(form, event.key)) event.preventDefault();
      } else if (event.key === "n" && note) {
        event.preventDefault();
        note.focus();
      }
    });
  });
})();
