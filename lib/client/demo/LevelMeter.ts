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
  #peak = 0;
  #closed = false;

  constructor(context: AudioContext, stream: MediaStream) {
    this.#source = context.createMediaStreamSource(stream);
    this.#analyser = context.createAnalyser();
    this.#analyser.fftSize = 1024;
    this.#samples = new Float32Array(this.#analyser.fftSize);
    // Analysed only, never routed to the speakers: playback is the <audio> element's job.
    this.#source.connect(this.#analyser);
  }

  /** Highest level read since the last `resetPeak()`. */
  get peak(): number {
    return this.#peak;
  }

  /** The RMS level of the last ~20 ms, 0 (silence) to 1 (full scale). */
  read(): number {
    if (this.#closed) return 0;
    this.#analyser.getFloatTimeDomainData(this.#samples);
    let sum = 0;
    for (const sample of this.#samples) sum += sample * sample;
    const level = Math.sqrt(sum / this.#samples.length);
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
