/* The admin page: list, upload, replace and delete documents through the JSON API.
 * The admin token is asked for once and kept in sessionStorage (this tab only), sent in the
 * Authorization header, never put in a URL. No inline script: the page passes a CSP without 'unsafe-inline'. */
(function () {
  "use strict";
  var KEY = "qa-admin-token";
  var root = document.querySelector("main.admin");
  if (!root) { return; }
  var statusLine = document.getElementById("status");
  var tbody = document.querySelector("#documents tbody");
  var replaceInput = document.getElementById("replace-file");
  var replacing = null;

  function token() { try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; } }

  function say(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "status" + (kind ? " " + kind : "");
  }

  function showToken() {
    var has = !!token();
    document.getElementById("token-form").hidden = has;
    document.getElementById("token-set").hidden = !has;
  }

  function request(method, url, body) {
    var headers = {};
    if (method !== "GET") {
      if (!token()) { return Promise.reject(new Error("请先输入管理令牌")); }
      headers.Authorization = "Bearer " + token();
    }
    return fetch(url, { method: method, headers: headers, body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            if (response.status === 401) { try { sessionStorage.removeItem(KEY); } catch (e) { /* ignore */ } showToken(); }
            throw new Error((data && data.error) || ("请求失败（" + response.status + "）"));
          }
          return data;
        });
      });
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    row.appendChild(td);
    return td;
  }

  function button(label, action, id) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.setAttribute("data-action", action);
    b.setAttribute("data-id", id);
    return b;
  }

  function render(list) {
    tbody.textContent = "";
    list.documents.forEach(function (d) {
      var row = document.createElement("tr");
      row.setAttribute("data-id", d.id);
      cell(row, d.id);
      var title = cell(row, "");
      var link = document.createElement("a");
      link.href = "/documents/" + encodeURIComponent(d.id);
      link.textContent = d.title;
      title.appendChild(link);
      cell(row, d.format);
      cell(row, d.pages ? String(d.pages) : "–", "num");
      cell(row, String(d.passages), "num");
      cell(row, d.origin === "added" ? "上传/添加" : "构建");
      var actions = cell(row, "", "actions");
      if (d.has_file) {
        var file = document.createElement("a");
        file.href = "/api/documents/" + encodeURIComponent(d.id) + "/file";
        file.textContent = "原文件";
        actions.appendChild(file);
      }
      actions.appendChild(button("替换", "replace", d.id));
      actions.appendChild(button("删除", "delete", d.id));
      tbody.appendChild(row);
    });
    document.getElementById("count").textContent = "（" + list.documents.length + " 个）";
  }

  function refresh() {
    return request("GET", "/api/documents").then(render).catch(function (e) { say(e.message, "error"); });
  }

  function send(method, url, file, verb) {
    var limit = Number(root.getAttribute("data-max-upload-mb")) * 1024 * 1024;
    if (limit && file.size > limit) { say("文件超过上传上限（" + root.getAttribute("data-max-upload-mb") + " MB）", "error"); return; }
    var form = new FormData();
    form.append("file", file, file.name);
    say("正在" + verb + "：" + file.name + " …");
    request(method, url, form).then(function (data) {
      say(verb + "完成：" + data.id + "（" + data.passages + " 段" + (data.pages ? "，" + data.pages + " 页" : "") +
          "，用时 " + Math.round(data.took_ms) + " 毫秒）", "ok");
      return refresh();
    }).catch(function (e) { say(verb + "失败：" + e.message, "error"); });
  }

  document.getElementById("token-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = document.getElementById("token").value.trim();
    if (!value) { return; }
    try { sessionStorage.setItem(KEY, value); } catch (e) { say("浏览器不允许保存令牌", "error"); }
    document.getElementById("token").value = "";
    showToken();
    say("令牌已保存", "ok");
  });

  document.getElementById("forget").addEventListener("click", function () {
    try { sessionStorage.removeItem(KEY); } catch (e) { /* ignore */ }
    showToken();
    say("令牌已清除");
  });

  document.getElementById("upload-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("file");
    if (!input.files.length) { return; }
    send("POST", "/api/documents", input.files[0], "上传");
    input.value = "";
  });

  tbody.addEventListener("click", function (event) {
    var target = event.target.closest("button[data-action]");
    if (!target) { return; }
    var id = target.getAttribute("data-id");
    if (target.getAttribute("data-action") === "delete") {
      if (!window.confirm("确定删除文档 " + id + "？（只从索引中删除，不会动您电脑上的文件）")) { return; }
      say("正在删除：" + id + " …");
      request("DELETE", "/api/documents/" + encodeURIComponent(id)).then(function (data) {
        say("已删除：" + data.id + "（现有 " + data.documents + " 个文档）", "ok");
        return refresh();
      }).catch(function (e) { say("删除失败：" + e.message, "error"); });
    } else {
      replacing = id;
      replaceInput.value = "";
      replaceInput.click();
    }
  });

  replaceInput.addEventListener("change", function () {
    if (replacing && replaceInput.files.length) {
      send("PUT", "/api/documents/" + encodeURIComponent(replacing), replaceInput.files[0], "替换");
    }
    replacing = null;
  });

  showToken();
  refresh();
})();
