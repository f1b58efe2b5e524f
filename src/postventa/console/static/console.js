// Progressive enhancement for the send form: a live character count and a
// warning for characters the marketplace refuses. The server checks again.
(function () {
  "use strict";

  // Unicode White_Space, as the server trims it.
  var SPACE = "\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
  var TRIM = new RegExp("^[" + SPACE + "]+|[" + SPACE + "]+$", "g");

  function firstRefused(chars) {
    for (var i = 0; i < chars.length; i++) {
      var code = chars[i].codePointAt(0);
      var crlf = chars[i] === "\r" && chars[i + 1] === "\n";
      var allowedControl = chars[i] === "\n" || chars[i] === "\t" || crlf;
      var control = code < 0x20 || code === 0x7f || (code >= 0x80 && code <= 0x9f);
      if ((control && !allowedControl) || code > 0xff) return i;
    }
    return -1;
  }

  function hex(code) {
    return "U+" + code.toString(16).toUpperCase().padStart(4, "0");
  }

  function check(textarea) {
    var max = Number(textarea.dataset.maxLength || 350);
    var chars = Array.from(textarea.value.replace(TRIM, ""));
    var count = document.getElementById("message-count");
    var charset = document.getElementById("message-charset");
    if (count) {
      count.textContent = chars.length + " / " + max + " characters" +
        (chars.length > max ? " (" + (chars.length - max) + " too many)" : "");
      count.classList.toggle("warning", chars.length > max);
    }
    if (charset) {
      var index = firstRefused(chars);
      charset.textContent = index < 0 ? "" : refusal(chars[index], index);
    }
  }

  // The same sentence as the server's refusal.
  function refusal(char, index) {
    var code = char.codePointAt(0);
    var kind = code > 0xff ? "is not in ISO-8859-1" : "is a control character";
    return "The message has a character the marketplace refuses: " + hex(code) +
      " at position " + (index + 1) + " " + kind + ".";
  }

  document.addEventListener("input", function (event) {
    if (event.target.id === "message") check(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var textarea = document.getElementById("message");
    if (textarea) check(textarea);
  });
  // After htmx replaces a deliveries row, move the focus to its notice, since
  // the button that had it is gone.
  document.addEventListener("htmx:afterSettle", function () {
    var notice = document.querySelector("tr .notice[data-focus]");
    if (notice) {
      notice.removeAttribute("data-focus");
      notice.focus();
    }
  });
})();
