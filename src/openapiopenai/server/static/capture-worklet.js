// AudioWorklet: microphone samples -> PCM16 mono at 24 kHz, posted to the page in fixed chunks.
//
// The page asks for a 24 kHz AudioContext, so the browser resamples the microphone itself and
// this is a plain float -> int16 conversion. Where the context runs at another rate (a browser
// that refuses 24 kHz), samples are linearly interpolated to 24 kHz here.

class Pcm16Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.targetRate = opts.targetRate || 24000;
    this.chunkSamples = Math.round((this.targetRate * (opts.chunkMs || 40)) / 1000);
    this.step = sampleRate / this.targetRate; // input samples per output sample
    this.t = 0; // next read position, relative to the current block (-1 = the previous block's last sample)
    this.prev = 0;
    this.fresh();
  }

  fresh() {
    this.out = new Int16Array(this.chunkSamples);
    this.n = 0;
    this.sumSquares = 0;
  }

  push(s) {
    const v = s > 1 ? 1 : s < -1 ? -1 : s;
    this.out[this.n++] = v < 0 ? v * 32768 : v * 32767;
    this.sumSquares += v * v;
    if (this.n === this.chunkSamples) {
      const rms = Math.sqrt(this.sumSquares / this.n);
      this.port.postMessage({ pcm: this.out.buffer, rms }, [this.out.buffer]);
      this.fresh();
    }
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const ch = channels[0];
    const len = ch.length;
    if (this.step === 1) {
      for (let i = 0; i < len; i++) this.push(ch[i]);
      return true;
    }
    let t = this.t;
    while (t <= len - 1) {
      const i0 = Math.floor(t);
      const frac = t - i0;
      const a = i0 < 0 ? this.prev : ch[i0];
      const b = i0 + 1 < len ? ch[i0 + 1] : a;
      this.push(a + (b - a) * frac);
      t += this.step;
    }
    this.t = t - len;
    this.prev = ch[len - 1];
    return true;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
