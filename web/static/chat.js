/* Progressive enhancement for the chat page (the page works without it: the form posts to /).
 * No framework, no external assets. Untrusted text (questions, passages, errors) only ever goes
 * through textContent / setAttribute, never through an HTML parser. */
(function () {
  "use strict";

  var NOT_FOUND = "文档中没有找到可靠的答案。";
  var WORKING = "正在检索…";
  var OFFLINE = "无法连接到问答服务，请确认服务正在运行，稍后再试。";
  var TIMEOUT = "等待回答超时，请稍后再试。";
  var EMPTY = "（空白问题）";
  var TIMEOUT_MS = 60000;
  var STORE_KEY = "qa-chat-history";
  var STORE_MAX = 30;
  var HISTORY_MAX = 10;  // earlier turns sent with a question (the API's limit)

  document.documentElement.classList.remove("no-js");
  document.documentElement.classList.add("js");

  /* ---------------------------------------------------------------- DOM helpers */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function append(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return parent;
  }

  function sourceHref(p, answer) {
    var params = new URLSearchParams({ start: String(p.char_start), end: String(p.char_end) });
    if (answer) {
      params.set("astart", String(answer.char_start));
      params.set("aend", String(answer.char_end));
    }
    return "/documents/" + encodeURIComponent(p.doc_id) + "?" + params.toString() + "#L" + p.line_start;
  }

  // 第 2 页，第 35-41 行（院况 > 床位）: pages for a PDF, the heading path where the document has one
  function linesZh(p) {
    var pages = p.page_start ? "第 " + p.page_start + (p.page_end && p.page_end !== p.page_start ? "-" + p.page_end : "") +
      " 页，" : "";
    var section = p.section ? "（" + p.section + "）" : "";
    return pages + "第 " + p.line_start + (p.line_end !== p.line_start ? "-" + p.line_end : "") + " 行" + section;
  }

  function linesEn(p) {
    return p.line_end !== p.line_start ? "lines " + p.line_start + "-" + p.line_end : "line " + p.line_start;
  }

  function containsAnswer(p, answer) {
    return !!answer && answer.doc_id === p.doc_id &&
      p.char_start <= answer.char_start && answer.char_start < p.char_end;
  }

  /* ---------------------------------------------------------------- rendering */

  function passageItem(p, answer) {
    var holds = containsAnswer(p, answer);
    var href = sourceHref(p, holds ? answer : null);
    var li = el("li", "passage" + (holds ? " has-answer" : ""));
    if (p.id) li.setAttribute("data-passage-id", p.id);

    var link = el("a", "cite-link");
    link.href = href;
    append(link, el("span", "num", "[" + p.rank + "]"), " ", el("span", "title", p.title), " ",
      el("span", "lines", linesZh(p)));

    var meta = append(el("p", "cite-meta"), el("span", "source", p.source),
      el("span", "score", "相关度 " + Number(p.score).toFixed(2)));

    var quote = el("blockquote", "passage-text");
    var at = holds && answer.display ? p.text.indexOf(answer.display) : -1;
    if (at >= 0) {
      append(quote, p.text.slice(0, at) || null, el("mark", null, answer.display),
        p.text.slice(at + answer.display.length) || null);
    } else {
      quote.textContent = p.text;
    }

    var open = el("a", "open-source", "查看原文");
    open.href = href;
    var copy = el("button", "copy", "复制引用");
    copy.type = "button";
    copy.setAttribute("data-cite", p.title + ", " + p.source + ", " + linesEn(p));
    copy.setAttribute("data-text", p.text);

    return append(li, link, meta, quote, append(el("p", "actions"), open, copy));
  }

  function passageList(passages, answer) {
    var ol = el("ol", "passages");
    passages.forEach(function (p) { ol.appendChild(passageItem(p, answer)); });
    return ol;
  }

  function replyBubble(data) {
    var passages = Array.isArray(data.passages) ? data.passages : [];
    var answer = data.found ? data.answer : null;
    var bubble = el("div", "bubble reply " + (answer ? "found" : "not-found"));
    if (typeof data.understood_as === "string" && data.understood_as && data.understood_as !== data.question) {
      bubble.appendChild(el("p", "understood", "理解为：" + data.understood_as));
    }
    if (answer) {
      var line = append(el("p", "answer"), el("mark", null, answer.display));
      var source = passages.filter(function (p) { return p.rank === answer.passage; })[0];
      if (source) {
        var ref = el("a", "answer-ref", "[" + source.rank + "]");
        ref.href = sourceHref(source, containsAnswer(source, answer) ? answer : null);
        ref.title = source.title + " " + linesZh(source);
        append(line, " ", ref);
      }
      append(bubble, line, el("p", "passages-label", "出处"), passageList(passages, answer));
    } else {
      bubble.appendChild(el("p", "answer none", NOT_FOUND));
      var unknown = Array.isArray(data.unknown_terms) ? data.unknown_terms : [];
      if (unknown.length) {
        bubble.appendChild(el("p", "unknown-terms", "文档中没有提到：" + unknown.join("、")));
      }
      if (passages.length) {
        var details = el("details", "low-confidence");
        append(details, el("summary", null, "最接近的段落（低置信度，仅供参考）"), passageList(passages, null));
        bubble.appendChild(details);
      }
    }
    if (typeof data.took_ms === "number" && data.took_ms > 0) {
      bubble.appendChild(el("p", "took", "检索用时 " + Math.round(data.took_ms) + " 毫秒"));
    }
    return bubble;
  }

  function errorBubble(status, message) {
    var bubble = el("div", "bubble reply error");
    bubble.setAttribute("role", "alert");
    var title = status ? "出错了（" + status + "）" : "出错了";
    return append(bubble, el("p", "error-title", title), el("p", "error-message", message));
  }

  function workingBubble() {
    var bubble = el("div", "bubble reply working");
    bubble.setAttribute("role", "status");
    return append(bubble, el("span", "spinner"), el("span", "working-text", WORKING));
  }

  function render(entry) {
    if (entry.data) return replyBubble(entry.data);
    return errorBubble(entry.status, entry.error);
  }

  /* ---------------------------------------------------------------- the conversation (kept in this browser) */

  function store() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  function loadStore() {
    try {
      var saved = JSON.parse((store() && store().getItem(STORE_KEY)) || "[]");
      return Array.isArray(saved) ? saved : [];
    } catch (e) {
      return [];
    }
  }

  function saveStore(entries) {
    try {
      if (store()) store().setItem(STORE_KEY, JSON.stringify(entries.slice(-STORE_MAX)));
    } catch (e) { /* storage full or disabled: the conversation just is not kept across reloads */ }
  }

  function answerShown(entry) {
    var data = entry && entry.data;
    return data && data.found && data.answer ? data.answer.display : null;
  }

  // The earlier turns as the API takes them: what was asked and the answer shown (null when none).
  function historyFor(entries) {
    return entries.filter(function (e) { return e && e.data && typeof e.question === "string" && e.question.trim(); })
      .slice(-HISTORY_MAX)
      .map(function (e) { return { question: e.question.slice(0, 1000), answer: (answerShown(e) || "").slice(0, 4000) || null }; });
  }

  // One turn as the page's hidden "turn" fields carry it (the export and the no-JavaScript path read these).
  function pastTurn(entry) {
    var data = entry.data || {};
    var passages = Array.isArray(data.passages) ? data.passages : [];
    var answer = data.found ? data.answer : null;
    var first = answer ? passages.filter(function (p) { return p.rank === answer.passage; }) : [];
    var ordered = first.concat(passages.filter(function (p) { return first.indexOf(p) < 0; })).slice(0, 5);
    return {
      question: (entry.question || "?").slice(0, 1000) || "?",
      understood_as: data.understood_as && data.understood_as !== data.question ? data.understood_as : null,
      answer: answerShown(entry),
      citations: ordered.map(function (p) {
        return { rank: p.rank, title: String(p.title).slice(0, 300), source: String(p.source).slice(0, 300),
                 where: linesZh(p), href: sourceHref(p, containsAnswer(p, answer) ? answer : null) };
      })
    };
  }

  /* ---------------------------------------------------------------- copy citation */

  function copyFallback(text) {
    var area = el("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "-1000px";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, function () {
        return copyFallback(text);
      });
    }
    return Promise.resolve(copyFallback(text));
  }

  function confirmCopy(button, ok) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = ok ? "已复制" : "复制失败";
    button.classList.toggle("copied", ok);
    clearTimeout(button._qaTimer);
    button._qaTimer = setTimeout(function () {
      button.textContent = label;
      button.classList.remove("copied");
    }, 1800);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy") : null;
    if (!button) return;
    var text = (button.getAttribute("data-cite") || "") + "\n" + (button.getAttribute("data-text") || "");
    copyText(text).then(function (ok) { confirmCopy(button, ok); });
  });

  /* ---------------------------------------------------------------- source view */

  // The #L anchor brings the cited line into view; make sure the answer sentence is in view too.
  var docText = document.querySelector(".doc-text");
  if (docText) {
    var focus = docText.querySelector("mark.hl-answer") ||
      document.getElementById("L" + (docText.getAttribute("data-focus-line") || ""));
    if (focus) {
      var box = focus.getBoundingClientRect();
      if (box.top < 0 || box.bottom > window.innerHeight) focus.scrollIntoView({ block: "center" });
    }
  }

  /* ---------------------------------------------------------------- chat */

  var form = document.getElementById("ask");
  var log = document.getElementById("history");
  if (!form || !log) return;
  var input = form.querySelector("textarea[name=question]");
  var sendButton = form.querySelector("button[type=submit]");
  var intro = log.querySelector(".intro");
  var topK = parseInt(form.getAttribute("data-top-k"), 10) || 5;
  var busy = false;
  var entries = [];

  function addTurn(question) {
    var turn = el("article", "turn");
    var blank = !question.trim();
    turn.appendChild(el("div", "bubble question" + (blank ? " empty" : ""), blank ? EMPTY : question));
    if (intro) intro.hidden = true;
    log.appendChild(turn);
    return turn;
  }

  function finish(turn, pending, entry) {
    turn.replaceChild(render(entry), pending);
    entries.push(entry);
    saveStore(entries);
  }

  function requestBody(question) {
    var body = { question: question, top_k: topK };
    var history = historyFor(entries);
    if (history.length) body.history = history;
    var chosen = Array.prototype.map.call(form.querySelectorAll('input[name="doc"]:checked'),
      function (box) { return box.value; });
    if (chosen.length) body.filter = { doc_ids: chosen };
    return body;
  }

  function startOver() {
    entries = [];
    saveStore(entries);
    Array.prototype.forEach.call(log.querySelectorAll(".turn"), function (turn) { turn.parentNode.removeChild(turn); });
    Array.prototype.forEach.call(form.querySelectorAll('input[name="turn"]'), function (f) { f.parentNode.removeChild(f); });
    if (intro) intro.hidden = false;
    input.value = "";
    input.focus();
  }

  function exportMarkdown() {
    Array.prototype.forEach.call(form.querySelectorAll('input[name="turn"]'), function (f) { f.parentNode.removeChild(f); });
    entries.filter(function (e) { return e && e.data; }).slice(-HISTORY_MAX).forEach(function (e) {
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = "turn";
      field.value = JSON.stringify(pastTurn(e));
      form.appendChild(field);
    });
    var action = form.getAttribute("action");
    form.setAttribute("action", "/conversation.md");
    form.submit();  // a download: the page stays
    form.setAttribute("action", action || "/");
  }

  function ask(question) {
    if (busy) return;
    busy = true;
    sendButton.disabled = true;
    var turn = addTurn(question);
    var pending = workingBubble();
    turn.appendChild(pending);
    turn.scrollIntoView({ block: "nearest" });
    input.value = "";

    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
    fetch("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(requestBody(question)),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.json().then(function (body) { return body; }, function () { return null; })
        .then(function (body) {
          if (response.ok && body && Array.isArray(body.passages)) {
            finish(turn, pending, { question: question, data: body });
          } else {
            var message = body && typeof body.error === "string" ? body.error : "服务返回了无法识别的响应。";
            finish(turn, pending, { question: question, status: response.status, error: message });
          }
        });
    }).catch(function (err) {
      var aborted = err && err.name === "AbortError";
      finish(turn, pending, { question: question, status: 0, error: aborted ? TIMEOUT : OFFLINE });
      if (!input.value) input.value = question;
    }).then(function () {
      if (timer) clearTimeout(timer);
      busy = false;
      sendButton.disabled = false;
      turn.scrollIntoView({ block: "start", behavior: "smooth" });
      input.focus();
    });
  }

  form.setAttribute("data-sends-scope", "");  // the JSON path sends the chosen documents itself (scope.js steps aside)

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (event.submitter && event.submitter.classList.contains("export")) {
      exportMarkdown();
      return;
    }
    ask(input.value);
  });

  var newChat = form.querySelector(".new-chat");
  if (newChat) {
    newChat.addEventListener("click", function (event) {
      event.preventDefault();
      startOver();
    });
  }

  input.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    ask(input.value);
  });

  Array.prototype.forEach.call(log.querySelectorAll(".example"), function (button) {
    button.addEventListener("click", function () { ask(button.getAttribute("data-question") || ""); });
  });

  // A plain GET of the page: bring back this tab's earlier questions (e.g. after reading a source).
  if (!log.querySelector(".turn")) {
    loadStore().forEach(function (entry) {
      if (!entry || typeof entry.question !== "string") return;
      try {
        var turn = addTurn(entry.question);
        turn.appendChild(render(entry));
        entries.push(entry);
      } catch (e) { /* a damaged entry is skipped */ }
    });
  }
})();
