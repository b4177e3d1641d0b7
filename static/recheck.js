/* The "Due for re-checking" list (mapper/web/recheck.py).
 *
 * Without this script each "Confirmed today" button posts its small form and the server
 * redirects back with a message. With it, the same form is sent with fetch (asking for
 * JSON; the CSRF token travels in the form and in the X-CSRF-Token header) and the row is
 * marked as confirmed in place; the count and a status line (aria-live) say what happened.
 * Any answer other than success or a conflict falls back to the ordinary form post.
 */
(function () {
  "use strict";

  var focusFirst = document.querySelector("[data-ed-autofocus]");
  if (focusFirst) {
    focusFirst.focus();
  }

  var status = document.getElementById("due-status");
  var count = document.getElementById("due-count");
  var meta = document.querySelector("meta[name='csrf-token']");

  function say(text, isError) {
    if (!status) {
      return;
    }
    status.textContent = text;
    status.classList.toggle("due-status--error", Boolean(isError));
  }

  function recount() {
    if (!count) {
      return;
    }
    var left = document.querySelectorAll("[data-due-row]:not(.due-row--done)").length;
    count.setAttribute("data-total", String(left));
    count.textContent = left === 0
      ? "Nothing left to re-check here."
      : left.toLocaleString("en-GB") + (left === 1 ? " record" : " records") +
        " still due, oldest check first.";
  }

  function done(form, answer) {
    var row = form.closest("[data-due-row]");
    if (!row) {
      return;
    }
    row.classList.add("due-row--done");
    var checked = row.querySelector("[data-due-checked]");
    if (checked) {
      checked.textContent = "confirmed today";
    }
    var mark = document.createElement("span");
    mark.className = "due-done";
    mark.textContent = "Confirmed today";
    form.replaceWith(mark);
    say(answer.message, false);
    recount();
  }

  document.querySelectorAll("form.due-confirm").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (typeof window.fetch !== "function") {
        return; // the ordinary post
      }
      event.preventDefault();
      var button = form.querySelector("button");
      if (button) {
        button.disabled = true;
      }
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
        headers: {
          "Accept": "application/json",
          "X-CSRF-Token": meta ? meta.content : ""
        }
      }).then(function (response) {
        return response.json().then(function (answer) {
          return { ok: response.ok, status: response.status, answer: answer };
        }, function () {
          return { ok: false, status: response.status, answer: null };
        });
      }).then(function (result) {
        if (result.ok && result.answer) {
          done(form, result.answer);
        } else if (result.status === 409 && result.answer) {
          say(result.answer.message, true);
          if (button) {
            button.disabled = false;
          }
        } else {
          form.submit(); // let the server say what is wrong, on its own page
        }
      }, function () {
        form.submit();
      });
    });
  });
}());
