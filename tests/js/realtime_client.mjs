// Drives an openapiopenai server with the official `openai` Node SDK's realtime WebSocket client.
// Usage: node realtime_client.mjs <baseURL https://127.0.0.1:PORT/v1> <pcm16-24kHz file> [apiKey]
// Prints every server event as one JSON line; exits 0 after the first committed turn's item is done.
import fs from 'node:fs';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

const [baseURL, pcmPath, apiKey = 'test-key'] = process.argv.slice(2);
const client = new OpenAI({ apiKey, baseURL });
const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime' }, client);

const deadline = setTimeout(() => {
  console.error('timed out waiting for a committed turn');
  process.exit(3);
}, 30000);

rt.on('error', (err) => {
  console.log(JSON.stringify({ type: '__client_error__', message: String(err.message) }));
});
rt.on('event', (event) => {
  console.log(JSON.stringify(event));
  if (event.type === 'conversation.item.done') {
    clearTimeout(deadline);
    rt.close();
  }
});
rt.socket.on('open', () => {
  rt.send({
    type: 'session.update',
    session: { type: 'realtime', audio: { input: { turn_detection: { type: 'server_vad' } } } },
  });
  // the recording, then 1 s of silence so that the turn ends
  const pcm = Buffer.concat([fs.readFileSync(pcmPath), Buffer.alloc(48000)]);
  const chunk = 4800; // 100 ms of PCM16 at 24 kHz
  for (let i = 0; i < pcm.length; i += chunk) {
    rt.send({ type: 'input_audio_buffer.append', audio: pcm.subarray(i, i + chunk).toString('base64') });
  }
});
rt.socket.on('close', () => clearTimeout(deadline));
