"use strict";
// The grid workers' page: a token once, then reports with photos, and the
// stages of one's own reports. Everything it keeps is in localStorage:
// the token, the language, and the reports filed from this phone.
(function () {
  var CATEGORIES = ["Hazard", "Dispute", "Request", "Fire", "Flood", "Gathering", "Accident", "Other"];
  var SEVERITIES = ["Routine", "IV", "III", "II", "I"];
  var STAGES = ["stored_here", "at_next_hop", "at_owner", "accepted", "resolved", "closed"];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var MAX_PHOTOS = 4, KEEP = 30, POLL_MS = 5000, SHRINK_OVER = 1 << 20, SHRINK_TO = 1600;
  var T = {
    zh: {
      app: "联动 · 网格上报", tokenHead: "输入令牌", token: "令牌", save: "保存",
      tokenHelp: "令牌由本中心值班室发放，只需输入一次，保存在本机。",
      category: "类别", severity: "级别", place: "地点", title: "标题", detail: "详情", photos: "照片",
      placeHint: "如：鼓山镇福兴村3号楼", titleHint: "一句话说明情况", detailHint: "经过、影响、现场情况",
      submit: "提交上报", mine: "我的上报", refresh: "刷新", none: "还没有上报。", forget: "更换令牌",
      needTitle: "请填写标题。", tooMany: "最多4张照片。", badType: "只能上传JPEG或PNG照片。",
      uploading: "正在上传照片", sending: "正在提交…", filed: "已提交，编号 ", offline: "网络不通，请稍后重试（不会重复上报）。",
      badToken: "令牌无效：", owner: "承办：", checked: "更新于 ",
      Hazard: "安全隐患", Dispute: "矛盾纠纷", Request: "群众诉求", Fire: "火灾", Flood: "汛情",
      Gathering: "群体性事件", Accident: "事故", Other: "其他",
      Routine: "常规", IV: "一般（IV级）", III: "较大（III级）", II: "重大（II级）", I: "特别重大（I级）",
      sRoutine: "常规", sIV: "一般", sIII: "较大", sII: "重大", sI: "特别重大",
      stored_here: "已存入本中心", at_next_hop: "已到达上一级", at_owner: "已到达承办中心",
      accepted: "已受理", resolved: "已办结", closed: "已结案"
    },
    en: {
      app: "Liandong · Grid report", tokenHead: "Enter your token", token: "Token", save: "Save",
      tokenHelp: "Your center's duty office issues the token. Enter it once; it stays on this phone.",
      category: "Category", severity: "Severity", place: "Place", title: "Title", detail: "Detail", photos: "Photos",
      placeHint: "e.g. Gushan, Fuxing village, bldg 3", titleHint: "What happened, in one line", detailHint: "What, since when, who is affected",
      submit: "File report", mine: "My reports", refresh: "Refresh", none: "No reports yet.", forget: "Change token",
      needTitle: "Please give a title.", tooMany: "At most 4 photos.", badType: "Photos must be JPEG or PNG.",
      uploading: "Uploading photo", sending: "Filing…", filed: "Filed, number ", offline: "No connection; try again (it will not be filed twice).",
      badToken: "Token refused: ", owner: "Owner: ", checked: "checked ",
      Hazard: "Hazard", Dispute: "Dispute", Request: "Request", Fire: "Fire", Flood: "Flood",
      Gathering: "Gathering", Accident: "Accident", Other: "Other",
      Routine: "Routine", IV: "IV – general", III: "III – serious", II: "II – major", I: "I – especially major",
      sRoutine: "Routine", sIV: "IV", sIII: "III", sII: "II", sI: "I",
      stored_here: "stored here", at_next_hop: "at the next hop", at_owner: "at its owner",
      accepted: "accepted", resolved: "resolved", closed: "closed"
    }
  };
  var $ = function (id) { return document.getElementById(id); };
  var store = window.localStorage;
  var lang = store.getItem("ld.lang") === "en" ? "en" : "zh";
  var token = store.getItem("ld.token") || "";
  var mine = read("ld.reports");
  var photos = [];      // {file, url, sha}: sha once uploaded, so a retry does not send it again
  var key = null;       // this submission's Idempotency-Key, until it is filed or the form changes
  var busy = false, polling = false;
  var note = null;      // what the form's line says: [text key or null, more text, class], again in the other language

  function read(name) {
    try { var v = JSON.parse(store.getItem(name) || "[]"); return Array.isArray(v) ? v : []; } catch (e) { return []; }
  }
  function t(k) { return T[lang][k] || k; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function say(node, text, kind) { node.textContent = text; node.className = kind || ""; }
  function tell(k, more, kind) { note = k || more ? [k, more || "", kind || ""] : null; told(); }
  function told() { say($("msg"), note ? (note[0] ? t(note[0]) : "") + note[1] : "", note ? note[2] : ""); }

  function options(select, values, label) {
    var was = select.value;
    select.textContent = "";
    values.forEach(function (v) { var o = el("option", null, label(v)); o.value = v; select.appendChild(o); });
    if (was) select.value = was;
  }

  function apply() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("app");
    document.querySelectorAll("[data-t]").forEach(function (e) { e.textContent = t(e.getAttribute("data-t")); });
    document.querySelectorAll("[data-p]").forEach(function (e) { e.placeholder = t(e.getAttribute("data-p")); });
    $("lang").textContent = lang === "zh" ? "EN" : "中文";
    $("lang").lang = lang === "zh" ? "en" : "zh-CN";
    options($("category"), CATEGORIES, t);
    options($("severity"), SEVERITIES, t);
    told();
    $("login").hidden = !!token;
    $("report").hidden = $("mine").hidden = !token;
    render();
  }

  // One call of the JSON API with the token; given up after `ms` (a
  // stalled link must not hold the form or the polling forever).
  function api(method, path, body, headers, ms) {
    var h = { "Authorization": "Bearer " + token }, stop = window.AbortController && new AbortController();
    for (var k in headers || {}) h[k] = headers[k];
    var timer = stop && setTimeout(function () { stop.abort(); }, ms || 30000);
    return fetch(path, { method: method, headers: h, body: body, cache: "no-store", signal: stop && stop.signal })
      .then(function (res) {
        return res.json().catch(function () { return null; }).then(function (data) {
          if (res.ok && data) return data;
          if (res.ok) throw new Error(t("offline"));
          var why = (data && data.error) || res.status + " " + res.statusText;
          throw new Error(res.status === 401 ? t("badToken") + why : why);
        });
      }, function () { throw new Error(t("offline")); })
      .then(function (v) { clearTimeout(timer); return v; }, function (e) { clearTimeout(timer); throw e; });
  }

  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return "page-" + Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }

  // A large camera photo is scaled down to SHRINK_TO pixels (JPEG) before
  // it goes over a thin link; a small one goes as it is.
  function shrink(file) {
    if (file.size <= SHRINK_OVER || !window.createImageBitmap) return Promise.resolve(file);
    return createImageBitmap(file).then(function (img) {
      var s = Math.min(1, SHRINK_TO / Math.max(img.width, img.height));
      var c = document.createElement("canvas");
      c.width = Math.round(img.width * s); c.height = Math.round(img.height * s);
      c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
      return new Promise(function (done) { c.toBlob(function (b) { done(b && b.size < file.size ? b : file); }, "image/jpeg", 0.85); });
    }).catch(function () { return file; });
  }

  function drawPhotos() {
    var box = $("thumbs"), add = $("add");
    while (box.firstChild !== add) box.removeChild(box.firstChild);
    photos.forEach(function (p, i) {
      var d = el("div"), img = el("img"), x = el("button", "x", "×");
      img.src = p.url; img.alt = p.file.name;
      x.type = "button";
      x.onclick = function () { URL.revokeObjectURL(p.url); photos.splice(i, 1); key = null; drawPhotos(); };
      d.appendChild(img); d.appendChild(x);
      box.insertBefore(d, add);
    });
    add.hidden = photos.length >= MAX_PHOTOS;
    $("count").textContent = photos.length + "/" + MAX_PHOTOS;
  }

  function pick() {
    var files = Array.prototype.slice.call($("photo").files);
    tell();
    files.forEach(function (f) {
      if (!/^image\/(jpeg|png)$/.test(f.type)) return tell("badType", "", "err");
      if (photos.length >= MAX_PHOTOS) return tell("tooMany", "", "err");
      photos.push({ file: f, url: URL.createObjectURL(f), sha: null });
    });
    $("photo").value = "";
    key = null;
    drawPhotos();
  }

  function upload(i) {
    if (i >= photos.length) return Promise.resolve();
    var p = photos[i];
    if (p.sha) return upload(i + 1);
    tell("uploading", " " + (i + 1) + "/" + photos.length + "…");
    // Time enough for a slow 2G link: 4 KB a second.
    return shrink(p.file).then(function (blob) { return api("POST", "/v1/photos", blob, null, 30000 + blob.size / 4); })
      .then(function (r) { p.sha = r.sha256; return upload(i + 1); });
  }

  function submit(ev) {
    ev.preventDefault();
    if (busy) return;
    var title = $("title").value.trim();
    if (!title) { tell("needTitle", "", "err"); $("title").focus(); return; }
    busy = $("send").disabled = true;
    tell("sending");
    key = key || newKey();
    var report = {
      category: $("category").value, severity: $("severity").value,
      title: title, detail: $("detail").value.trim(), place: $("place").value.trim()
    };
    upload(0).then(function () {
      if (photos.length) report.photos = photos.map(function (p) { return p.sha; });
      tell("sending");
      return api("POST", "/v1/reports", JSON.stringify(report), { "Content-Type": "application/json", "Idempotency-Key": key });
    }).then(function (r) {
      var known = mine.filter(function (m) { return m.id === r.id; }).length;
      if (!known) {
        mine.unshift({ id: r.id, title: report.title, category: report.category, severity: report.severity,
          place: report.place, photos: photos.length, at: Date.now(), stage: "stored_here" });
        mine = mine.slice(0, KEEP);
        store.setItem("ld.reports", JSON.stringify(mine));
      }
      photos.forEach(function (p) { URL.revokeObjectURL(p.url); });
      photos = []; key = null;
      $("report").reset();
      drawPhotos();
      tell("filed", r.id.slice(0, 8), "ok");
      render();
      poll();
    }).catch(function (e) { tell(null, e.message, "err"); })
      .then(function () { busy = $("send").disabled = false; });
  }

  function when(ms) {
    var d = new Date(ms), p = function (n) { return (n < 10 ? "0" : "") + n; };
    var day = lang === "zh" ? (d.getMonth() + 1) + "月" + d.getDate() + "日" : d.getDate() + " " + MONTHS[d.getMonth()];
    return day + " " + p(d.getHours()) + ":" + p(d.getMinutes());
  }

  function render() {
    var list = $("list");
    list.textContent = "";
    $("empty").hidden = mine.length > 0;
    mine.forEach(function (m) {
      var li = el("li", "card item"), top = el("div", "top"), bar = el("div", "bar"), st = el("div", "st");
      li.setAttribute("data-id", m.id);
      top.appendChild(el("b", "sev s-" + m.severity, t("s" + m.severity)));
      top.appendChild(el("span", "ttl", m.title));
      var meta = [t(m.category)];
      if (m.place) meta.push(m.place);
      meta.push(when(m.at));
      if (m.photos) meta.push(lang === "zh" ? "照片 " + m.photos : m.photos + (m.photos > 1 ? " photos" : " photo"));
      var reached = STAGES.indexOf(m.stage);
      STAGES.forEach(function (s, i) { bar.appendChild(el("i", i <= reached ? "on" : "")); });
      st.appendChild(el("span", "stage", t(m.stage)));
      if (m.owner) st.appendChild(el("span", "owner", t("owner") + m.owner));
      li.appendChild(top);
      li.appendChild(el("div", "meta", meta.join(" · ")));
      li.appendChild(bar);
      li.appendChild(st);
      list.appendChild(li);
    });
  }

  // One round at a time: each report not yet closed, asked in turn.
  function poll() {
    if (polling || !token) return;
    var open = mine.filter(function (m) { return m.stage !== "closed"; });
    if (!open.length) return;
    polling = true;
    var failed = null;
    open.reduce(function (chain, m) {
      return chain.then(function () {
        return api("GET", "/v1/reports/" + encodeURIComponent(m.id), null, null, 20000).then(function (r) {
          m.stage = r.stage; m.owner = r.owner;
        }, function (e) { failed = e; });
      });
    }, Promise.resolve()).then(function () {
      say($("listMsg"), failed ? failed.message : "", failed ? "err" : "");
      store.setItem("ld.reports", JSON.stringify(mine));
      polling = false;
      render();
    });
  }

  $("lang").onclick = function () {
    lang = lang === "zh" ? "en" : "zh";
    store.setItem("ld.lang", lang);
    apply();
  };
  $("login").onsubmit = function (ev) {
    ev.preventDefault();
    var v = $("token").value.trim();
    if (!v) return;
    token = v;
    store.setItem("ld.token", token);
    $("token").value = "";
    apply();
    poll();
  };
  $("forget").onclick = function () { token = ""; store.removeItem("ld.token"); apply(); };
  $("report").onsubmit = submit;
  $("report").oninput = function () { key = null; };
  $("photo").onchange = pick;
  $("refresh").onclick = poll;
  setInterval(function () { if (document.visibilityState === "visible") poll(); }, POLL_MS);
  apply();
  drawPhotos();
  poll();
})();
