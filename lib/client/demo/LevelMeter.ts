/**
 * The loudness of one audio stream, read on demand from a WebAudio analyser.
 *
 * Chrome feeds a remote WebRTC stream into WebAudio only while the stream is
 * also attached to a media element, so the demo keeps an <audio> element per
 * participant (which is also what plays it).
 */
export class LevelMeter {
  readonly #source: MediaStreamAudioSourceNode;
  readonly #analyser: AnalyserNode;
  readonly #samples: Float32Array<ArrayBuffer>;
  readonly #blockSize: number;
  #peak = 0;
  #closed = false;

  /** `windowMs` must cover the interval between reads, or short sounds fall between them. */
  constructor(context: AudioContext, stream: MediaStream, windowMs = 150) {
    this.#source = context.createMediaStreamSource(stream);
    this.#analyser = context.createAnalyser();
    // The analyser's window is a power of two between 32 and 32768 samples.
    const wanted = (context.sampleRate * windowMs) / 1000;
    this.#analyser.fftSize = Math.min(32768, 2 ** Math.ceil(Math.log2(Math.max(32, wanted))));
    this.#samples = new Float32Array(this.#analyser.fftSize);
    this.#blockSize = Math.max(1, Math.round(context.sampleRate / 100));
    // Analysed only, never routed to the speakers: playback is the <audio> element's job.
    this.#source.connect(this.#analyser);
  }

  /** Highest level read since the last `resetPeak()`. */
  get peak(): number {
    return this.#peak;
  }

  /**
   * The loudest 10 ms within the analyser's window, as RMS from 0 (silence)
   * to 1 (full scale): a short syllable counts even when the window is long.
   */
  read(): number {
    if (this.#closed) return 0;
    this.#analyser.getFloatTimeDomainData(this.#samples);
    let level = 0;
    for (let start = 0; start < this.#samples.length; start += this.#blockSize) {
      const end = Math.min(start + this.#blockSize, this.#samples.length);
      let sum = 0;
      for (let i = start; i < end; i++) {
        const sample = this.#samples[i]!;
        sum += sample * sample;
      }
      level = Math.max(level, Math.sqrt(sum / (end - start)));
    }
    if (level > this.#peak) this.#peak = level;
    return level;
  }

  resetPeak(): void {
    this.#peak = 0;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#source.disconnect();
  }
}
