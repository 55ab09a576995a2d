export interface LoudestSelectorOptions {
  /** How many speakers are forwarded at a time (FORWARD_LOUDEST). */
  slots: number;
  /** A newcomer must be this many times louder (linear amplitude) than the quietest forwarded speaker... */
  margin: number;
  /** ...for this many consecutive updates before it takes that speaker's place. */
  holdUpdates: number;
}

/** A newcomer must be 6 dB louder (twice the amplitude) than the speaker it replaces. */
export const LOUDEST_MARGIN = 2;
/** ...for this long in a row: a word, not a cough. */
export const LOUDEST_HOLD_MS = 300;

/**
 * Which publishers of a room are forwarded under FORWARD_LOUDEST (PROTOCOL
 * §15): at most `slots` of them, picked from the smoothed levels once per
 * level update. Free slots are filled at once, loudest first; a forwarded
 * publisher that fell silent (level 0) is replaced at once; otherwise a
 * newcomer must be `margin` times louder than the quietest forwarded one for
 * `holdUpdates` updates in a row, so two speakers of about the same level
 * do not flap in and out.
 */
export class LoudestSelector {
  readonly #options: LoudestSelectorOptions;
  readonly #selected = new Set<string>();
  /** Consecutive updates each newcomer has been louder than the quietest forwarded publisher by the margin. */
  readonly #louderFor = new Map<string, number>();

  constructor(options: LoudestSelectorOptions) {
    this.#options = options;
  }

  /** Whether `id`'s packets are forwarded now. */
  has(id: string): boolean {
    return this.#selected.has(id);
  }

  /** A publisher that just started: forwarded at once while a slot is free, else it waits for its level. */
  admit(id: string): boolean {
    if (this.#selected.size < this.#options.slots) this.#selected.add(id);
    return this.#selected.has(id);
  }

  get selected(): ReadonlySet<string> {
    return this.#selected;
  }

  /**
   * Takes the publishers' current levels (linear amplitude, 0 for silent or
   * without levels) and updates the selection. Returns whether it changed.
   */
  update(levels: ReadonlyMap<string, number>): boolean {
    let changed = false;
    for (const id of this.#selected) {
      if (levels.has(id)) continue;
      this.#selected.delete(id);
      changed = true;
    }
    const candidates = [...levels.keys()]
      .filter((id) => !this.#selected.has(id))
      .sort((a, b) => levels.get(b)! - levels.get(a)!);
    for (const id of this.#louderFor.keys()) if (!candidates.includes(id)) this.#louderFor.delete(id);

    let next = 0;
    while (next < candidates.length && this.#selected.size < this.#options.slots) {
      const id = candidates[next++]!;
      this.#selected.add(id);
      this.#louderFor.delete(id);
      changed = true;
    }
    // The rest, loudest first, challenge the quietest forwarded publisher in turn.
    for (; next < candidates.length; next++) {
      const id = candidates[next]!;
      const level = levels.get(id)!;
      const quietest = this.#quietest(levels);
      if (quietest === undefined) break;
      const quietestLevel = levels.get(quietest)!;
      if (level <= 0 || level <= quietestLevel * this.#options.margin) {
        this.#louderFor.delete(id);
        continue;
      }
      const louderFor = (this.#louderFor.get(id) ?? 0) + 1;
      if (quietestLevel > 0 && louderFor < this.#options.holdUpdates) {
        this.#louderFor.set(id, louderFor);
        continue;
      }
      this.#selected.delete(quietest);
      this.#selected.add(id);
      this.#louderFor.delete(id);
      changed = true;
    }
    return changed;
  }

  #quietest(levels: ReadonlyMap<string, number>): string | undefined {
    let quietest: string | undefined;
    for (const id of this.#selected) {
      if (quietest === undefined || levels.get(id)! < levels.get(quietest)!) quietest = id;
    }
    return quietest;
  }
}
