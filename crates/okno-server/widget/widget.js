// Okno website chat: the one script a site embeds.
//   <script src="https://okno.example/widget.js" data-channel="shop" async></script>
// Plain JavaScript, no framework: it must not disturb the host page (everything lives in a
// shadow root) and stays small (it loads on every page of the shop). It speaks the protocol in
// crates/okno-server/src/chat/protocol.rs over one WebSocket; the two change together.
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-channel][src*='widget.js']");
  if (!script || window.__oknoChat) return;
  window.__oknoChat = true;
  var base = new URL(script.src, location.href);
  var channel = script.getAttribute("data-channel") || "";
  var wanted = script.getAttribute("data-lang") || navigator.language || "en";
  var lang = /^ru/i.test(wanted) ? "ru" : "en";
  var T = {
    en: {
      open: "Chat with us", close: "Close chat", title: "Chat", name: "Your name",
      contact: "Email or phone", start: "Start chat", placeholder: "Type a message…", send: "Send",
      attach: "Attach a file", end: "End chat", offline: "Reconnecting…", read: "Read", sent: "Sent",
      sending: "Sending…", uploading: "Uploading…", rateAsk: "How was this chat?", good: "Good",
      normal: "Normal", bad: "Bad", comment: "A comment (optional)", rate: "Send rating",
      thanks: "Thank you for your rating!", closedTitle: "We are closed now",
      closedText: "Leave a message and we will answer by email.", closedNoMail: "Please come back in our opening hours.",
      email: "Your email", message: "Your message", leave: "Leave a message",
      left: "Thank you! Your request number is #", tooBig: "The file is too large (at most {n} MB).",
      badType: "Files of this type are not accepted.", tooLong: "At most {n} characters.", typing: "",
      you: "You", call: "Call us", hangup: "Hang up", calling: "Calling…", ringing: "Ringing…",
      answered: "Connected", held: "On hold, please wait", ended: "Call ended", noMic: "The microphone is not available",
      operatorTyping: "The operator is typing…"
    },
    ru: {
      open: "Напишите нам", close: "Закрыть чат", title: "Чат", name: "Ваше имя",
      contact: "Email или телефон", start: "Начать чат", placeholder: "Введите сообщение…", send: "Отправить",
      attach: "Прикрепить файл", end: "Завершить чат", offline: "Переподключение…", read: "Прочитано",
      sent: "Отправлено", sending: "Отправляется…", uploading: "Загрузка…", rateAsk: "Как прошёл разговор?",
      good: "Хорошо", normal: "Нормально", bad: "Плохо", comment: "Комментарий (необязательно)",
      rate: "Оценить", thanks: "Спасибо за оценку!", closedTitle: "Сейчас мы не работаем",
      closedText: "Оставьте сообщение, и мы ответим по email.", closedNoMail: "Пожалуйста, напишите в рабочее время.",
      email: "Ваш email", message: "Ваше сообщение", leave: "Оставить сообщение",
      left: "Спасибо! Номер вашего обращения #", tooBig: "Файл слишком большой (не больше {n} МБ).",
      badType: "Файлы такого типа не принимаются.", tooLong: "Не больше {n} символов.", typing: "",
      you: "Вы", call: "Позвонить", hangup: "Завершить звонок", calling: "Соединяем…", ringing: "Идёт вызов…",
      answered: "Разговор", held: "Вас поставили на удержание, подождите", ended: "Звонок завершён", noMic: "Микрофон недоступен",
      operatorTyping: "Оператор печатает…"
    }
  }[lang];

  var CSS =
    ":host{all:initial}[hidden]{display:none!important}*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;" +
    "background:#2457d6;color:#fff;font-size:15px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #f5a623;outline-offset:2px}" +
    ".panel{position:fixed;right:20px;bottom:20px;z-index:2147483001;width:360px;max-width:calc(100vw - 40px);height:520px;" +
    "max-height:calc(100vh - 40px);display:flex;flex-direction:column;background:#fff;color:#1b1f24;border-radius:12px;" +
    "box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden;font-size:14px}" +
    ".head{display:flex;align-items:center;gap:8px;padding:12px 14px;background:#2457d6;color:#fff}" +
    ".head h2{flex:1;margin:0;font-size:16px}.head button{background:none;border:0;color:#fff;cursor:pointer;font-size:13px}" +
    ".x{font-size:20px!important;line-height:1}.status{font-size:12px;color:#8a5a00;background:#fff4d6;padding:4px 14px}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f4f6fa}" +
    ".msg{max-width:80%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}" +
    ".visitor{align-self:flex-end;background:#2457d6;color:#fff}.operator{align-self:flex-start;background:#fff;border:1px solid #dde2ea}" +
    ".meta{font-size:11px;opacity:.75;margin-top:3px}.msg img{max-width:100%;border-radius:6px;display:block;margin-top:4px}" +
    ".msg a{color:inherit}.who{font-size:11px;font-weight:600;margin-bottom:2px}" +
    "form,.compose{display:flex;flex-direction:column;gap:8px;padding:12px;border-top:1px solid #dde2ea}" +
    ".compose{flex-direction:row;align-items:flex-end}.compose textarea{flex:1;resize:none;height:40px}" +
    "input,textarea{width:100%;padding:8px;border:1px solid #b9c1ce;border-radius:6px;font-size:14px;color:#1b1f24;background:#fff}" +
    "button.primary{background:#2457d6;color:#fff;border:0;border-radius:6px;padding:9px 12px;cursor:pointer;font-size:14px}" +
    "button.icon{background:#eef1f6;border:0;border-radius:6px;padding:9px 10px;cursor:pointer}" +
    ".callbar{display:flex;align-items:center;gap:8px;padding:8px 14px;background:#e8f5ec;color:#145a2c;font-size:13px}" +
    ".callbar span{flex:1}.callbar button{background:#c62828;color:#fff;border:0;border-radius:6px;padding:6px 10px;cursor:pointer}" +
    ".error{color:#b00020;padding:0 14px 8px;font-size:12px}.scores{display:flex;gap:6px}.scores button{flex:1}" +
    ".scores button[aria-pressed=true]{outline:3px solid #2457d6}.note{padding:12px;color:#39414d}" +
    "@media (prefers-color-scheme:dark){.panel{background:#1d2127;color:#e6e9ee}.log{background:#15181d}" +
    ".operator{background:#262b33;border-color:#343a44}input,textarea{background:#15181d;color:#e6e9ee;border-color:#3b4350}" +
    ".note{color:#c5ccd6}button.icon{background:#2b313a;color:#e6e9ee}}";

  var host = document.createElement("div");
  host.id = "okno-chat";
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = CSS;
  root.appendChild(style);

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") node.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function fmt(text, n) { return text.replace("{n}", n); }
  // Icons as SVG paths: emoji need a font the visitor's system may not have.
  var CLIP = "M16.5 6.5l-7.8 7.8a2 2 0 0 0 2.8 2.8l7.8-7.8a4 4 0 0 0-5.7-5.7l-7.8 7.8a6 6 0 0 0 8.5 8.5l6.4-6.4";
  var FILE = "M14 3H6v18h12V7zM14 3v4h4";
  var PHONE = "M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2";
  function icon(node, path) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    svg.setAttribute("aria-hidden", "true");
    svg.style.verticalAlign = "middle";
    var p = document.createElementNS("http://www.w3.org/2000/svg", "path");
    p.setAttribute("d", path);
    p.setAttribute("fill", "none");
    p.setAttribute("stroke", "currentColor");
    p.setAttribute("stroke-width", "2");
    p.setAttribute("stroke-linecap", "round");
    svg.appendChild(p);
    node.insertBefore(svg, node.firstChild);
    return node;
  }

  var storeKey = "okno-chat:" + channel;
  var state = {
    token: localStorage.getItem(storeKey), socket: null, welcome: null, lines: [], pending: {}, readAt: 0,
    name: null, status: null, open: false, online: false, retry: 0, error: "", rated: false, leftNumber: null,
    lastTyping: 0, view: "chat"
  };

  var launcher = el("button", { class: "launcher", type: "button", "aria-label": T.open, text: T.open, onclick: openPanel });
  var panel = el("div", { class: "panel", role: "dialog", "aria-label": T.title, hidden: "" });
  root.appendChild(launcher);
  root.appendChild(panel);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") closePanel(); });

  function openPanel() {
    state.open = true;
    launcher.hidden = true;
    panel.hidden = false;
    render();
    var first = Array.prototype.find.call(panel.querySelectorAll("input:not([type=file]),textarea"), function (n) {
      return n.offsetParent !== null;
    });
    if (first) first.focus();
  }
  function closePanel() {
    state.open = false;
    panel.hidden = true;
    launcher.hidden = false;
    launcher.focus();
  }

  // ---- the socket ----
  function connect() {
    var url = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/v1/widget/" + encodeURIComponent(channel) + "/ws";
    var ws = new WebSocket(url);
    state.socket = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", token: state.token || undefined, page: location.href }));
    };
    ws.onmessage = function (e) {
      var m;
      try { m = JSON.parse(e.data); } catch (_) { return; }
      receive(m);
    };
    ws.onclose = function () {
      state.online = false;
      state.socket = null;
      var delay = Math.min(30000, 1000 * Math.pow(2, state.retry++));
      setTimeout(connect, delay);
      render();
    };
  }
  function send(m) {
    if (state.socket && state.online) state.socket.send(JSON.stringify(m));
  }

  function receive(m) {
    switch (m.type) {
      case "welcome":
        state.welcome = m;
        state.online = true;
        state.retry = 0;
        state.token = m.token;
        localStorage.setItem(storeKey, m.token);
        state.name = m.name;
        state.status = m.status;
        state.readAt = m.read_at || 0;
        state.lines = m.history;
        if (m.rating) buildScores(m.rating);
        Object.keys(rendered).forEach(function (id) { logEl.removeChild(rendered[id]); delete rendered[id]; });
        // What was typed but not confirmed before the connection dropped goes again (the
        // server stores a message id once).
        Object.keys(state.pending).forEach(function (id) { send(state.pending[id]); });
        break;
      case "started":
        state.name = m.name;
        break;
      case "message":
        if (m.message.from === "operator") state.typingUntil = 0;
        if (m.client_id) delete state.pending[m.client_id];
        if (!state.lines.some(function (l) { return l.id === m.message.id; })) state.lines.push(m.message);
        if (m.message.from === "operator") chime();
        break;
      case "read":
        state.readAt = Math.max(state.readAt, m.at);
        break;
      case "typing":
        state.typingUntil = Date.now() + 4000;
        setTimeout(render, 4100);
        break;
      case "status":
        state.status = m.status;
        if (m.status === "open" || m.status === "new") {
          state.rated = false;
          chosenScore = null;
          comment.value = "";
          scoreButtons.forEach(function (x) { x.setAttribute("aria-pressed", "false"); });
        }
        break;
      case "rated":
        state.rated = true;
        break;
      case "left":
        state.leftNumber = m.number;
        break;
      case "error":
        state.error = m.message;
        if (call.pc && /^(call_failed|busy|no_calls|form_needed)$/.test(m.code)) endCall("");
        break;
      case "call_answer":
        if (call.pc) call.pc.setRemoteDescription({ type: "answer", sdp: m.sdp }).catch(function (e) { endCall(String(e)); });
        break;
      case "call":
        if (m.state === "ended") endCall(T.ended);
        else setCallState(m.state);
        break;
    }
    render();
  }

  function chime() {
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.05;
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.15);
    } catch (_) { /* no sound is fine */ }
  }

  // ---- actions ----
  function newId() {
    var a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function sendMessage(text, attachments) {
    var limits = state.welcome.limits;
    if (text.length > limits.max_message_chars) {
      state.error = fmt(T.tooLong, limits.max_message_chars);
      render();
      return false;
    }
    var m = { type: "message", id: newId(), text: text, attachments: attachments || [] };
    state.pending[m.id] = m;
    state.error = "";
    send(m);
    render();
    return true;
  }
  function upload(file) {
    var limits = state.welcome.limits;
    if (limits.attachment_types.indexOf(file.type) < 0) {
      state.error = T.badType;
      return render();
    }
    if (file.size > limits.max_attachment_bytes) {
      state.error = fmt(T.tooBig, Math.round(limits.max_attachment_bytes / 1048576));
      return render();
    }
    state.error = T.uploading;
    render();
    fetch(base.origin + "/v1/widget/" + encodeURIComponent(channel) + "/files?name=" + encodeURIComponent(file.name), {
      method: "POST", body: file, headers: { "Content-Type": file.type, "X-Okno-Visitor": state.token }
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.message || r.status);
        state.error = "";
        sendMessage("", [body]);
      });
    }).catch(function (e) {
      state.error = String(e.message || e);
      render();
    });
  }
  var fileUrls = {};
  function fileUrl(sha, then) {
    if (fileUrls[sha]) return then(fileUrls[sha]);
    fetch(base.origin + "/v1/widget/" + encodeURIComponent(channel) + "/files/" + sha, { headers: { "X-Okno-Visitor": state.token } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.blob(); })
      .then(function (b) { fileUrls[sha] = URL.createObjectURL(b); then(fileUrls[sha]); })
      .catch(function () { /* the link stays inert */ });
  }

  // ---- calls (WebRTC to the center's gateway; the offer carries every candidate) ----
  var call = { pc: null, mic: null, since: 0, timer: null };
  // calling, ringing, answered (the timer runs) or held (the desk put the visitor on hold).
  function setCallState(name) {
    callBar.hidden = false;
    call.state = name;
    if (name === "answered" && !call.since) {
      call.since = Date.now();
      call.timer = setInterval(showCall, 1000);
    }
    showCall();
    callBar.setAttribute("data-state", name === "answered" || name === "held" ? name : "calling");
  }
  function showCall() {
    var s = Math.floor((Date.now() - call.since) / 1000);
    callText.textContent = call.state === "answered" && call.since
      ? T.answered + " " + Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2)
      : T[call.state] || call.state;
  }
  function endCall(text) {
    if (call.timer) clearInterval(call.timer);
    if (call.mic) call.mic.getTracks().forEach(function (t) { t.stop(); });
    if (call.pc) call.pc.close();
    call = { pc: null, mic: null, since: 0, timer: null };
    remoteAudio.srcObject = null;
    callText.textContent = text;
    callBar.setAttribute("data-state", "ended");
    if (!text) callBar.hidden = true;
    else setTimeout(function () { if (!call.pc) callBar.hidden = true; }, 4000);
    render();
  }
  function startCall() {
    var settings = state.welcome && state.welcome.calls;
    if (!settings || call.pc) return;
    var pc = new RTCPeerConnection({ iceServers: settings.ice_servers, iceTransportPolicy: settings.relay_only ? "relay" : "all" });
    call.pc = pc;
    setCallState("calling");
    render();
    pc.ontrack = function (e) { remoteAudio.srcObject = e.streams[0] || new MediaStream([e.track]); };
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (mic) {
      call.mic = mic;
      mic.getTracks().forEach(function (t) { pc.addTrack(t, mic); });
      return pc.createOffer();
    }).then(function (offer) {
      return pc.setLocalDescription(offer);
    }).then(function () {
      return new Promise(function (done) {
        if (pc.iceGatheringState === "complete") return done();
        pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") done(); });
        setTimeout(done, 5000);
      });
    }).then(function () {
      if (call.pc === pc) send({ type: "call_offer", sdp: pc.localDescription.sdp });
    }).catch(function (e) {
      state.error = e && e.name === "NotAllowedError" ? T.noMic : String(e.message || e);
      endCall("");
    });
  }

  // ---- rendering ----
  // The panel's parts are built once and shown or hidden; lines are appended as they come. A
  // frame arriving while the visitor types never rebuilds the field they are typing in.
  function field(type, name, label, extra) {
    var input = el(type === "textarea" ? "textarea" : "input", Object.assign({ name: name, "aria-label": label, placeholder: label, required: "" }, extra || {}));
    if (type !== "textarea") input.type = type;
    return input;
  }
  var titleEl = el("h2", { text: T.title });
  var endButton = el("button", { type: "button", text: T.end, onclick: function () { send({ type: "end" }); } });
  var callButton = icon(el("button", { class: "call", type: "button", "aria-label": T.call, title: T.call, onclick: startCall }), PHONE);
  panel.appendChild(el("div", { class: "head" }, [titleEl, callButton, endButton,
    el("button", { class: "x", type: "button", "aria-label": T.close, text: "×", onclick: closePanel })]));
  var statusEl = el("div", { class: "status", role: "status", text: T.offline });
  panel.appendChild(statusEl);
  var callText = el("span", { role: "status" });
  var callBar = el("div", { class: "callbar", hidden: "" }, [callText,
    el("button", { type: "button", text: T.hangup, onclick: function () { send({ type: "call_hangup" }); endCall(T.ended); } })]);
  var remoteAudio = el("audio", { class: "remote-audio", autoplay: "" });
  panel.appendChild(callBar);
  root.appendChild(remoteAudio);

  var closedEl = el("div", { class: "note" }, [el("strong", { text: T.closedTitle }), el("p", {})]);
  var leftEl = el("div", { class: "note", role: "status" });
  var leaveForm = el("form", { class: "leave", onsubmit: function (e) {
    e.preventDefault();
    send({ type: "leave_message", name: leaveForm.elements.name.value, email: leaveForm.elements.email.value, text: leaveForm.elements.text.value });
  } }, [field("text", "name", T.name), field("email", "email", T.email), field("textarea", "text", T.message),
    el("button", { class: "primary", type: "submit", text: T.leave })]);

  var startForm = el("form", { class: "start", onsubmit: function (e) {
    e.preventDefault();
    send({ type: "start", name: startForm.elements.name.value, contact: startForm.elements.contact.value });
  } }, [field("text", "name", T.name, { autocomplete: "name" }), field("text", "contact", T.contact, { autocomplete: "email" }),
    el("button", { class: "primary", type: "submit", text: T.start })]);

  var logEl = el("div", { class: "log", role: "log", "aria-live": "polite" });
  var pendingEl = el("div", { class: "pending-lines" });
  var typingEl = el("div", { class: "meta typing", role: "status", text: T.operatorTyping });
  var rendered = {};

  var chosenScore = null;
  var comment = el("textarea", { name: "comment", "aria-label": T.comment, placeholder: T.comment });
  var scoreButtons = [];
  var scoresEl = el("div", { class: "scores" });
  // The center's scale (from the welcome): three words, or one to five stars, best first.
  function buildScores(scale) {
    var scores = scale === "five" ? ["5", "4", "3", "2", "1"] : ["good", "normal", "bad"];
    if (scoresEl.getAttribute("data-scale") === scale) return;
    scoresEl.setAttribute("data-scale", scale);
    scoresEl.textContent = "";
    chosenScore = null;
    scoreButtons = scores.map(function (score) {
      var label = scale === "five" ? new Array(Number(score) + 1).join("\u2605") : T[score];
      var b = el("button", { class: "icon", type: "button", "data-score": score, "aria-pressed": "false", text: label,
        "aria-label": scale === "five" ? score + " / 5" : label, onclick: function () {
          chosenScore = score;
          scoreButtons.forEach(function (x) { x.setAttribute("aria-pressed", String(x === b)); });
        } });
      scoresEl.appendChild(b);
      return b;
    });
  }
  buildScores("three");
  var ratingForm = el("form", { class: "rating", onsubmit: function (e) {
    e.preventDefault();
    if (chosenScore) send({ type: "rate", score: chosenScore, comment: comment.value });
  } }, [el("div", { text: T.rateAsk }), scoresEl, comment,
    el("button", { class: "primary", type: "submit", text: T.rate })]);
  var thanksEl = el("div", { class: "note", role: "status", text: T.thanks });

  var text = el("textarea", { name: "text", "aria-label": T.placeholder, placeholder: T.placeholder });
  function sendTyped() {
    if (text.value.trim() && sendMessage(text.value.trim())) text.value = "";
  }
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      sendTyped();
    }
  });
  text.addEventListener("input", function () {
    if (Date.now() - state.lastTyping > 2000) { state.lastTyping = Date.now(); send({ type: "typing" }); }
  });
  var fileInput = el("input", { type: "file", name: "file", hidden: "" });
  fileInput.addEventListener("change", function () { if (fileInput.files[0]) upload(fileInput.files[0]); fileInput.value = ""; });
  var compose = el("div", { class: "compose" }, [
    fileInput,
    icon(el("button", { class: "icon", type: "button", "aria-label": T.attach, title: T.attach, onclick: function () { fileInput.click(); } }), CLIP),
    text,
    el("button", { class: "primary", type: "button", text: T.send, onclick: function () { sendTyped(); text.focus(); } })
  ]);
  var errorEl = el("div", { class: "error", role: "alert" });
  [closedEl, leftEl, leaveForm, startForm, logEl, ratingForm, thanksEl, compose, errorEl].forEach(function (n) {
    n.hidden = true;
    panel.appendChild(n);
  });
  logEl.appendChild(pendingEl);
  logEl.appendChild(typingEl);

  function show(node, visible) { node.hidden = !visible; }
  // The read receipt the operators see: the newest of their replies that an open panel on a
  // visible page has shown. The server keeps the latest only, so saying it again is harmless.
  var seenAt = 0;
  function reportSeen() {
    if (!state.open || !state.online || document.visibilityState === "hidden") return;
    var newest = state.lines.reduce(function (at, l) { return l.from === "operator" && l.at > at ? l.at : at; }, 0);
    if (newest > seenAt) {
      seenAt = newest;
      send({ type: "seen", at: newest });
    }
  }
  document.addEventListener("visibilitychange", reportSeen);

  function render() {
    reportSeen();
    var w = state.welcome;
    titleEl.textContent = (w && w.title) || T.title;
    show(statusEl, !state.online);
    var closed = !!w && !w.open && !state.lines.length;
    var chatting = !!w && !closed && !!state.name;
    show(closedEl, closed);
    show(leaveForm, closed && w.can_leave_message && !state.leftNumber);
    show(leftEl, closed && !!state.leftNumber);
    if (closed) {
      closedEl.lastChild.textContent = w.can_leave_message ? T.closedText : T.closedNoMail;
      leftEl.textContent = T.left + state.leftNumber;
    }
    show(startForm, !!w && !closed && !state.name);
    show(logEl, chatting);
    show(compose, chatting);
    show(ratingForm, chatting && finished() && !state.rated && !!w.rating);
    show(thanksEl, chatting && finished() && state.rated);
    show(endButton, chatting && state.lines.length > 0 && !finished());
    show(callButton, chatting && !!w.calls && !call.pc);
    if (w) fileInput.setAttribute("accept", w.limits.attachment_types.join(","));
    errorEl.textContent = state.error;
    show(errorEl, !!state.error);
    if (!chatting) return;
    var atBottom = logEl.scrollTop + logEl.clientHeight >= logEl.scrollHeight - 20;
    state.lines.forEach(function (l) {
      if (!rendered[l.id]) {
        rendered[l.id] = line(l);
        logEl.insertBefore(rendered[l.id], pendingEl);
      }
      var meta = rendered[l.id].querySelector(".meta");
      if (l.from === "visitor") meta.textContent = meta.getAttribute("data-time") + " · " + (l.at <= state.readAt ? "✓✓ " + T.read : "✓ " + T.sent);
    });
    pendingEl.textContent = "";
    Object.keys(state.pending).forEach(function (id) {
      var p = state.pending[id];
      pendingEl.appendChild(el("div", { class: "msg visitor pending" }, [document.createTextNode(p.text || "…"), el("div", { class: "meta", text: T.sending })]));
    });
    show(typingEl, (state.typingUntil || 0) > Date.now());
    if (atBottom) logEl.scrollTop = logEl.scrollHeight;
  }
  function finished() { return state.status === "resolved" || state.status === "closed"; }
  function line(l) {
    var node = el("div", { class: "msg " + l.from, "data-id": l.id });
    if (l.from === "operator") node.appendChild(el("div", { class: "who", text: l.author }));
    if (l.text) node.appendChild(document.createTextNode(l.text));
    (l.attachments || []).forEach(function (a) {
      if (/^image\//.test(a.mime)) {
        var img = el("img", { alt: a.name });
        fileUrl(a.sha256, function (u) { img.src = u; });
        node.appendChild(img);
      } else {
        var link = icon(el("a", { href: "#", download: a.name, text: " " + a.name }), FILE);
        fileUrl(a.sha256, function (u) { link.href = u; });
        node.appendChild(el("div", {}, [link]));
      }
    });
    var time = new Date(l.at).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    node.appendChild(el("div", { class: "meta", "data-time": time, text: time }));
    return node;
  }

  function start() {
    document.body.appendChild(host);
    connect();
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
