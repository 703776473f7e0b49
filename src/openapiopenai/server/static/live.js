// The live page: microphone or file -> PCM16 24 kHz -> /v1/realtime -> a scrolling timeline.
// Plain browser JavaScript, no build step and nothing loaded from elsewhere.
// The level drawn is measured here: the server does not expose its speech probability.
"use strict";

const RATE = 24000; // audio/pcm, the Realtime API's default input format
const CHUNK_MS = 40; // one input_audio_buffer.append per 40 ms
const WINDOW_MS = 15000; // the timeline shows the last 15 s
const MAX_EVENTS = 200;

const $ = (id) => document.getElementById(id);
const ui = {
  key: $("api-key"), startMic: $("start-mic"), file: $("file"), stop: $("stop"), status: $("status"),
  knobs: $("knobs"), type: $("vad-type"), threshold: $("threshold"), thresholdValue: $("threshold-value"),
  prefix: $("prefix"), silence: $("silence"), eagerness: $("eagerness"), transcription: $("transcription"),
  canvas: $("timeline"), clock: $("clock"), turns: $("turns"), events: $("events"),
};

const state = {
  ws: null, sessionReady: false, audio: null, fileTimer: null,
  sentSamples: 0, levels: [], turns: new Map(), openItem: null, transcriptionOn: false,
};

function setStatus(text, kind = "ok") {
  ui.status.textContent = text;
  ui.status.className = "status" + (kind === "error" ? " error" : "");
  ui.status.dataset.state = kind;
}

function clockMs() {
  return (state.sentSamples * 1000) / RATE;
}

// ---------------------------------------------------------------- connection

function realtimeUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/v1/realtime`;
}

function connect() {
  if (state.ws && state.ws.readyState <= WebSocket.OPEN && state.sessionReady) return Promise.resolve(state.ws);
  if (state.ws) {
    state.ws.onclose = null; // a half-open earlier attempt is dropped, not reported
    state.ws.onmessage = null;
    state.ws.close(1000);
  }
  resetTimeline();
  const protocols = ["realtime"];
  const key = ui.key.value.trim();
  if (key) protocols.push("openai-insecure-api-key." + key); // how browsers pass a key (no headers)
  setStatus("connecting…");
  const ws = new WebSocket(realtimeUrl(), protocols);
  state.ws = ws;
  state.sessionReady = false;
  return new Promise((resolve, reject) => {
    ws.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      handleEvent(event);
      if (event.type === "session.created") {
        state.sessionReady = true;
        resolve(ws);
      }
    };
    ws.onclose = (e) => {
      const wasReady = state.sessionReady;
      state.sessionReady = false;
      if (state.ws === ws) stopAudio();
      if (!wasReady) {
        setStatus(`could not connect (close ${e.code}): is the API key right? See the server's log.`, "error");
        reject(new Error("connection failed"));
      } else if (e.code !== 1000) {
        setStatus(`connection closed (${e.code}${e.reason ? ": " + e.reason : ""})`, "error");
      }
      updateButtons();
    };
  });
}

function send(event) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(event));
}

function base64(int16) {
  const bytes = new Uint8Array(int16.buffer, int16.byteOffset, int16.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function sendPcm(int16, rms) {
  if (!state.sessionReady) return;
  send({ type: "input_audio_buffer.append", audio: base64(int16) });
  const t0 = clockMs();
  state.sentSamples += int16.length;
  const db = rms > 0 ? 20 * Math.log10(rms) : -100;
  state.levels.push({ t0, t1: clockMs(), db });
  if (state.levels.length > 5000) state.levels.splice(0, 1000);
}

// ---------------------------------------------------------------- knobs -> session.update

function turnDetection() {
  if (ui.type.value === "semantic_vad") return { type: "semantic_vad", eagerness: ui.eagerness.value };
  return {
    type: "server_vad",
    threshold: Number(ui.threshold.value),
    prefix_padding_ms: Math.round(Number(ui.prefix.value)),
    silence_duration_ms: Math.round(Number(ui.silence.value)),
  };
}

function sendSessionUpdate() {
  const input = { turn_detection: turnDetection() };
  const model = ui.transcription.value.trim();
  if (model) input.transcription = { model };
  else if (state.transcriptionOn) input.transcription = null;
  send({ type: "session.update", session: { type: "realtime", audio: { input } } });
}

function showKnobs(session) {
  const td = session && session.audio && session.audio.input && session.audio.input.turn_detection;
  if (!td) return;
  ui.type.value = td.type || "server_vad";
  if (td.threshold != null) ui.threshold.value = td.threshold;
  if (td.prefix_padding_ms != null) ui.prefix.value = td.prefix_padding_ms;
  if (td.silence_duration_ms != null) ui.silence.value = td.silence_duration_ms;
  if (td.eagerness) ui.eagerness.value = td.eagerness;
  const tr = session.audio.input.transcription;
  state.transcriptionOn = Boolean(tr);
  refreshKnobs();
}

function refreshKnobs() {
  ui.thresholdValue.textContent = Number(ui.threshold.value).toFixed(2);
  ui.knobs.classList.toggle("semantic", ui.type.value === "semantic_vad");
}

let knobsEdited = false;
for (const el of [ui.type, ui.threshold, ui.prefix, ui.silence, ui.eagerness, ui.transcription]) {
  el.addEventListener("input", refreshKnobs);
  el.addEventListener("change", () => {
    knobsEdited = true;
    refreshKnobs();
    if (state.sessionReady) sendSessionUpdate();
  });
}

// ---------------------------------------------------------------- server events

function turnFor(itemId) {
  let turn = state.turns.get(itemId);
  if (!turn) {
    const li = document.createElement("li");
    li.className = "turn";
    li.dataset.itemId = itemId;
    li.innerHTML = '<span class="span"></span><span class="transcript"></span>';
    ui.turns.prepend(li);
    turn = { start: null, end: null, transcript: "", li };
    state.turns.set(itemId, turn);
  }
  return turn;
}

function renderTurn(turn) {
  const s = (ms) => (ms / 1000).toFixed(2) + " s";
  const span = turn.li.querySelector(".span");
  if (turn.start == null) span.textContent = "committed audio";
  else if (turn.end == null) span.textContent = `${s(turn.start)} →`;
  else span.textContent = `${s(turn.start)} → ${s(turn.end)} (${s(turn.end - turn.start)})`;
  turn.li.classList.toggle("open", turn.start != null && turn.end == null);
  turn.li.querySelector(".transcript").textContent = turn.transcript;
}

function logEvent(event) {
  const li = document.createElement("li");
  const extra = [];
  for (const k of ["audio_start_ms", "audio_end_ms", "item_id"]) if (event[k] != null) extra.push(`${k}=${event[k]}`);
  if (event.type === "error" && event.error) extra.push(`${event.error.code || ""} ${event.error.message || ""}`);
  li.textContent = `${event.type} ${extra.join(" ")}`;
  if (event.type === "error") li.className = "error";
  ui.events.prepend(li);
  while (ui.events.childElementCount > MAX_EVENTS) ui.events.lastElementChild.remove();
}

function handleEvent(event) {
  logEvent(event);
  switch (event.type) {
    case "session.created":
      if (knobsEdited) sendSessionUpdate();
      else showKnobs(event.session);
      break;
    case "session.updated":
      showKnobs(event.session);
      setStatus(state.audio ? state.audio.label : "settings applied");
      break;
    case "input_audio_buffer.speech_started": {
      const turn = turnFor(event.item_id);
      turn.start = event.audio_start_ms;
      state.openItem = event.item_id;
      renderTurn(turn);
      break;
    }
    case "input_audio_buffer.speech_stopped": {
      const turn = turnFor(event.item_id);
      turn.end = event.audio_end_ms;
      if (state.openItem === event.item_id) state.openItem = null;
      renderTurn(turn);
      break;
    }
    case "input_audio_buffer.committed":
      if (state.openItem === event.item_id) state.openItem = null; // a manual commit during speech
      renderTurn(turnFor(event.item_id));
      break;
    case "conversation.item.input_audio_transcription.delta": {
      const turn = turnFor(event.item_id);
      turn.transcript += event.delta || "";
      renderTurn(turn);
      break;
    }
    case "conversation.item.input_audio_transcription.completed": {
      const turn = turnFor(event.item_id);
      turn.transcript = event.transcript || "";
      renderTurn(turn);
      break;
    }
    case "conversation.item.input_audio_transcription.failed": {
      const turn = turnFor(event.item_id);
      turn.transcript = `(transcription failed: ${(event.error && event.error.message) || "unknown"})`;
      renderTurn(turn);
      break;
    }
    case "error":
      setStatus(`error: ${event.error ? event.error.message : "unknown"}`, "error");
      break;
  }
}

// ---------------------------------------------------------------- audio sources

async function startMic() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    // browsers offer the microphone only to https:// pages and to localhost
    setStatus("no microphone on a plain http:// page from another host: serve TLS (--ssl-certfile) or stream a file", "error");
    return;
  }
  stopAudio();
  try {
    await connect();
  } catch (e) {
    return;
  }
  setStatus("asking for the microphone…");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (e) {
    setStatus(`no microphone: ${e.message}`, "error");
    return;
  }
  let ctx;
  try {
    ctx = new AudioContext({ sampleRate: RATE }); // the browser resamples the microphone
  } catch (e) {
    ctx = new AudioContext(); // the worklet interpolates to 24 kHz instead
  }
  await ctx.audioWorklet.addModule("capture-worklet.js");
  const source = ctx.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(ctx, "pcm16-capture", { processorOptions: { targetRate: RATE, chunkMs: CHUNK_MS } });
  node.port.onmessage = (e) => sendPcm(new Int16Array(e.data.pcm), e.data.rms);
  const mute = ctx.createGain();
  mute.gain.value = 0; // pulled by the destination so it keeps running, but never heard
  source.connect(node).connect(mute).connect(ctx.destination);
  await ctx.resume();
  state.audio = { label: "listening to the microphone", stop: () => { stream.getTracks().forEach((t) => t.stop()); ctx.close(); } };
  setStatus(state.audio.label);
  updateButtons();
}

async function decodeTo24k(file) {
  // decodeAudioData resamples to its context's rate
  const decoded = await new OfflineAudioContext(1, 1, RATE).decodeAudioData(await file.arrayBuffer());
  const mono = new Float32Array(decoded.length);
  for (let c = 0; c < decoded.numberOfChannels; c++) {
    const data = decoded.getChannelData(c);
    for (let i = 0; i < data.length; i++) mono[i] += data[i] / decoded.numberOfChannels;
  }
  const pcm = new Int16Array(mono.length);
  for (let i = 0; i < mono.length; i++) {
    const v = Math.max(-1, Math.min(1, mono[i]));
    pcm[i] = v < 0 ? v * 32768 : v * 32767;
  }
  return pcm;
}

async function streamFile(file) {
  stopAudio();
  let pcm;
  try {
    pcm = await decodeTo24k(file);
  } catch (e) {
    setStatus(`cannot decode ${file.name}: ${e.message || e}`, "error");
    return;
  }
  try {
    await connect();
  } catch (e) {
    return;
  }
  // trailing silence so the last turn ends by itself; a commit after it if it has not
  const tailMs = Math.max(Number(ui.silence.value) || 0, 500) + 500;
  const padded = new Int16Array(pcm.length + Math.round((tailMs * RATE) / 1000));
  padded.set(pcm);
  const chunk = (RATE * CHUNK_MS) / 1000;
  const total = Math.ceil(padded.length / chunk);
  const started = performance.now();
  const seconds = (pcm.length / RATE).toFixed(1);
  let i = 0;
  const label = () => `streaming ${file.name} at real-time speed: ${((i * CHUNK_MS) / 1000).toFixed(1)} / ${seconds} s`;
  state.audio = { label: label(), stop: () => clearTimeout(state.fileTimer) };
  const tick = () => {
    // real time: chunk i goes out CHUNK_MS * i after the start, whatever the timer's jitter
    while (i < total && i * CHUNK_MS <= performance.now() - started) {
      const piece = padded.subarray(i * chunk, (i + 1) * chunk);
      let sum = 0;
      for (let k = 0; k < piece.length; k++) sum += (piece[k] / 32768) ** 2;
      sendPcm(piece, Math.sqrt(sum / piece.length));
      i++;
    }
    if (i < total) {
      state.audio.label = label();
      setStatus(state.audio.label);
      state.fileTimer = setTimeout(tick, CHUNK_MS / 2);
      return;
    }
    if (state.openItem) send({ type: "input_audio_buffer.commit" });
    state.audio = null;
    setStatus(`finished ${file.name} (${seconds} s)`);
    updateButtons();
  };
  updateButtons();
  tick();
}

function stopAudio() {
  if (state.audio) state.audio.stop();
  state.audio = null;
  updateButtons();
}

function stopAll() {
  stopAudio();
  if (state.ws) {
    state.ws.onclose = null; // a close asked for is not a failure
    state.ws.onmessage = null;
    state.ws.close(1000);
  }
  state.ws = null;
  state.sessionReady = false;
  setStatus("stopped");
  updateButtons();
}

function updateButtons() {
  ui.stop.disabled = !state.audio && !(state.ws && state.ws.readyState === WebSocket.OPEN);
}

ui.startMic.addEventListener("click", startMic);
ui.stop.addEventListener("click", stopAll);
ui.file.addEventListener("change", () => {
  if (ui.file.files.length) streamFile(ui.file.files[0]);
  ui.file.value = "";
});

// ---------------------------------------------------------------- timeline

function resetTimeline() {
  state.sentSamples = 0;
  state.levels = [];
  state.turns.clear();
  state.openItem = null;
  ui.turns.replaceChildren();
}

function draw() {
  const canvas = ui.canvas;
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * dpr);
  const h = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const g = canvas.getContext("2d");
  const css = getComputedStyle(document.documentElement);
  const now = clockMs();
  const right = Math.max(now, WINDOW_MS);
  const left = right - WINDOW_MS;
  const x = (t) => ((t - left) / WINDOW_MS) * w;
  const axis = 18 * dpr;
  const top = 4 * dpr;
  const plot = h - axis - top;

  g.clearRect(0, 0, w, h);
  // seconds grid
  g.font = `${11 * dpr}px system-ui, sans-serif`;
  g.fillStyle = css.getPropertyValue("--muted");
  g.strokeStyle = "#2c3845";
  g.lineWidth = 1;
  for (let s = Math.ceil(left / 1000); s * 1000 <= right; s++) {
    const gx = Math.round(x(s * 1000)) + 0.5;
    g.beginPath();
    g.moveTo(gx, top);
    g.lineTo(gx, top + plot);
    g.stroke();
    g.fillText(`${s}s`, gx + 3 * dpr, h - 5 * dpr);
  }
  // turns: audio_start_ms .. audio_end_ms (an open turn runs to now)
  g.fillStyle = css.getPropertyValue("--turn");
  g.strokeStyle = css.getPropertyValue("--turn-edge");
  g.lineWidth = 2 * dpr;
  for (const turn of state.turns.values()) {
    if (turn.start == null) continue;
    const end = turn.end == null ? now : turn.end;
    if (end < left) continue;
    const x0 = x(turn.start);
    const x1 = x(end);
    g.fillRect(x0, top, Math.max(x1 - x0, 1), plot);
    g.beginPath();
    g.moveTo(x0, top);
    g.lineTo(x0, top + plot);
    if (turn.end != null) {
      g.moveTo(x1, top);
      g.lineTo(x1, top + plot);
    }
    g.stroke();
  }
  // input level, -70 dBFS .. 0 dBFS
  g.fillStyle = css.getPropertyValue("--level");
  for (const lv of state.levels) {
    if (lv.t1 < left) continue;
    const frac = Math.max(0, Math.min(1, (lv.db + 70) / 70));
    const bh = frac * plot;
    g.fillRect(x(lv.t0), top + plot - bh, Math.max(x(lv.t1) - x(lv.t0) - dpr, 1), bh);
  }
  ui.clock.textContent = `${(now / 1000).toFixed(1)} s sent`;
  requestAnimationFrame(draw);
}

refreshKnobs();
updateButtons();
requestAnimationFrame(draw);
