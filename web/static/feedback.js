/* Feedback on replies: 👍/👎 and an optional comment under every reply bubble.
 * Works by event delegation and a MutationObserver, so it needs nothing from chat.js: replies rendered by
 * the server already carry the form (web/templates/_answer.html, which also works without JavaScript),
 * replies that chat.js adds get the same form built here. Submitting sends JSON to /api/feedback instead
 * of leaving the page. Untrusted text only ever goes through textContent / value, never an HTML parser. */
(function () {
  "use strict";

  var THANKS = { up: "感谢反馈：有帮助", down: "感谢反馈：没有帮助" };
  var FAILED = "反馈没有发送成功";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function hidden(name, value) {
    var input = el("input");
    input.type = "hidden";
    input.name = name;
    input.value = value || "";
    return input;
  }

  function voteButton(vote, label, glyph) {
    var button = el("button", "vote " + vote, glyph);
    button.type = "submit";
    button.name = "vote";
    button.value = vote;
    button.title = label;
    button.setAttribute("aria-label", label);
    return button;
  }

  /* The passage a reply's vote is about: the one holding the answer, for a found reply; none otherwise. */
  function votedPassage(bubble) {
    if (!bubble.classList.contains("found")) return null;
    return bubble.querySelector("li.passage.has-answer") || bubble.querySelector("li.passage");
  }

  function citation(li) {
    var link = li && li.querySelector("a.cite-link");
    if (!link) return null;
    var url = new URL(link.getAttribute("href"), window.location.href);
    var match = url.pathname.match(/^\/documents\/([^/]+)$/);
    var start = parseInt(url.searchParams.get("start"), 10);
    if (!match || isNaN(start)) return null;
    return { doc_id: decodeURIComponent(match[1]), char_start: start };
  }

  function buildForm(bubble, question) {
    var li = votedPassage(bubble);
    var form = el("form", "feedback");
    form.method = "post";
    form.action = "/feedback";
    var answer = bubble.querySelector("p.answer mark");
    form.appendChild(hidden("question", question));
    form.appendChild(hidden("passage_id", li ? li.getAttribute("data-passage-id") : ""));
    form.appendChild(hidden("answer", answer ? answer.textContent : ""));
    var cited = li && !li.getAttribute("data-passage-id") ? citation(li) : null;
    if (cited) {
      form.setAttribute("data-doc-id", cited.doc_id);
      form.setAttribute("data-char-start", String(cited.char_start));
    }
    form.appendChild(el("span", "feedback-label", "这条回答有帮助吗？"));
    var comment = el("input", "feedback-comment");
    comment.type = "text";
    comment.name = "comment";
    comment.maxLength = 1000;
    comment.placeholder = "补充说明（可选）";
    comment.setAttribute("aria-label", "补充说明（可选）");
    form.appendChild(comment);
    form.appendChild(voteButton("up", "有帮助", "👍"));
    form.appendChild(voteButton("down", "没有帮助", "👎"));
    return form;
  }

  function enhance(root) {
    var bubbles = root.querySelectorAll ? root.querySelectorAll(".bubble.reply") : [];
    Array.prototype.forEach.call(bubbles, function (bubble) {
      if (bubble.classList.contains("error") || bubble.classList.contains("working")) return;
      if (bubble.querySelector("form.feedback")) return;
      var turn = bubble.closest(".turn");
      var asked = turn && turn.querySelector(".bubble.question");
      if (!asked || asked.classList.contains("empty")) return;
      bubble.appendChild(buildForm(bubble, asked.textContent));
    });
  }

  function field(form, name) {
    var input = form.querySelector("[name=" + name + "]");
    return input ? input.value : "";
  }

  function showResult(form, text, ok) {
    var note = form.querySelector(".feedback-result") || el("span", "feedback-result");
    note.textContent = text;
    note.setAttribute("role", "status");
    note.classList.toggle("failed", !ok);
    form.appendChild(note);
  }

  var lastClicked = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("form.feedback button.vote") : null;
    if (button) lastClicked = button;
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form.feedback") || !window.fetch) return;
    event.preventDefault();
    var button = event.submitter || lastClicked;
    var vote = button && button.value === "down" ? "down" : "up";
    var body = { question: field(form, "question"), vote: vote, comment: field(form, "comment") };
    var passageId = field(form, "passage_id");
    if (passageId) body.passage_id = passageId;
    else if (form.hasAttribute("data-doc-id")) {
      body.doc_id = form.getAttribute("data-doc-id");
      body.char_start = parseInt(form.getAttribute("data-char-start"), 10);
    }
    var answer = field(form, "answer");
    if (answer) body.answer = answer;
    Array.prototype.forEach.call(form.querySelectorAll("button.vote"), function (b) { b.disabled = true; });
    fetch("/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return data; }, function () { return null; })
        .then(function (data) {
          if (response.ok) {
            form.classList.add("sent");
            if (button) button.classList.add("chosen");
            showResult(form, THANKS[vote], true);
          } else {
            Array.prototype.forEach.call(form.querySelectorAll("button.vote"), function (b) { b.disabled = false; });
            showResult(form, FAILED + (data && data.error ? "：" + data.error : ""), false);
          }
        });
    }).catch(function () {
      Array.prototype.forEach.call(form.querySelectorAll("button.vote"), function (b) { b.disabled = false; });
      showResult(form, FAILED, false);
    });
  });

  function start() {
    var history = document.getElementById("history");
    if (!history) return;
    enhance(history);
    if (window.MutationObserver) {
      new MutationObserver(function (records) {
        records.forEach(function (record) {
          Array.prototype.forEach.call(record.addedNodes, function (node) {
            if (node.nodeType === 1) enhance(node.parentNode || node);
          });
        });
      }).observe(history, { childList: true, subtree: true });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
