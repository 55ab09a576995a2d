/**
 * The demo page: join a room, hear the others, see who speaks and who is muted.
 * The speaking ring follows the SFU's active-speaker list; the bars are the
 * levels this page measures itself.
 *
 * It loads the SDK from the URL the SFU serves it at, so the page always runs
 * the published bundle; the types come from the SDK's source.
 */
import type { ConnectionState, Participant, SfuClient } from "../index.js";
import { LevelMeter } from "./LevelMeter.js";

/** What tests and curious developers can reach from the console. */
export interface DemoHandle {
  client: SfuClient;
  /** Highest level seen per participant (peerId, "self" for the microphone) since the last reset. */
  peakLevels(): Record<string, number>;
  resetPeaks(): void;
}

declare global {
  interface Window {
    sfuDemo?: DemoHandle;
  }
}

interface Row {
  element: HTMLLIElement;
  avatar: HTMLElement;
  name: HTMLElement;
  detail: HTMLElement;
  bar: HTMLElement;
  meter: LevelMeter | undefined;
  audio: HTMLAudioElement | undefined;
}

const SDK_URL = "/sfu-client.js";
const METER_INTERVAL_MS = 100;
const METER_FLOOR_DB = 60;
const SELF = "self";

const { connect } = (await import(SDK_URL)) as typeof import("../index.js");

const form = element<HTMLFormElement>("join-form");
const roomInput = element<HTMLInputElement>("room");
const nameInput = element<HTMLInputElement>("name");
const joinButton = element<HTMLButtonElement>("join");
const leaveButton = element<HTMLButtonElement>("leave");
const muteButton = element<HTMLButtonElement>("mute");
const stateBadge = element("state");
const list = element<HTMLUListElement>("participants");
const count = element("count");
const empty = element("empty");
const message = element("message");

const rows = new Map<string, Row>();
// `?debug` in the URL logs the SDK's decisions to the console.
const client = connect(location.origin, { debug: new URLSearchParams(location.search).has("debug") });
let audioContext: AudioContext | undefined;
let inRoom = false;

prefill();
client.on("connection-state", (state) => showState(state));
client.on("participant-joined", (participant) => addRemote(participant));
client.on("participant-left", (participant) => removeRow(participant.peerId));
client.on("track", ({ peerId, stream }) => attachStream(peerId, stream));
client.on("peer-updated", (event) => showMuted(event.local ? SELF : event.peerId));
client.on("active-speakers", (speakers) => showSpeakers(speakers.map((s) => (s.local ? SELF : s.peerId))));
client.on("joined", (event) => {
  if (event.previousPeerId !== undefined) say("The session was lost and has been rebuilt.");
  else if (event.resumed) say("Reconnected.");
});
client.on("error", (error) => {
  say(error.message, true);
  if (client.state === "disconnected") resetRoom();
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  void join();
});
leaveButton.addEventListener("click", () => void leave());
muteButton.addEventListener("click", () => void toggleMute());
setInterval(updateMeters, METER_INTERVAL_MS);

window.sfuDemo = {
  client,
  peakLevels: () => Object.fromEntries([...rows].map(([id, row]) => [id, row.meter?.peak ?? 0])),
  resetPeaks: () => rows.forEach((row) => row.meter?.resetPeak()),
};

async function join(): Promise<void> {
  const roomId = roomInput.value.trim();
  const displayName = nameInput.value.trim();
  if (!roomId || !displayName) return;
  setControls("busy");
  say("");
  // Created and resumed inside the click so that the browser lets it run.
  audioContext ??= new AudioContext();
  // Not awaited: without an audio output device (Firefox) it never settles, and joining must not wait on it.
  audioContext
    .resume()
    .catch((error: unknown) => console.warn(`audio output unavailable: ${describe(error)}`));
  try {
    try {
      await client.publishMicrophone();
    } catch (error) {
      say(`${describe(error)}; joining to listen only.`, true);
    }
    await client.join({ roomId, userId: userId(), displayName });
    inRoom = true;
    addSelf(displayName);
    // A shareable link to the room (the name stays out of it; `debug` stays in).
    const params = new URLSearchParams(location.search);
    params.set("room", roomId);
    params.delete("name");
    history.replaceState(null, "", `?${params.toString()}`);
    setControls("joined");
  } catch (error) {
    say(`Could not join: ${describe(error)}`, true);
    setControls("idle");
  }
}

async function leave(): Promise<void> {
  setControls("busy");
  await client.leave();
  resetRoom();
  say("You left the room.");
}

async function toggleMute(): Promise<void> {
  const muting = client.setMuted(!client.muted);
  muteButton.setAttribute("aria-pressed", String(client.muted));
  muteButton.textContent = client.muted ? "Unmute" : "Mute";
  showMuted(SELF);
  try {
    await muting;
  } catch (error) {
    say(`The SFU did not take the mute: ${describe(error)}`, true);
  }
}

/** The mute icon of a row; for this page, also the mute button a moderator's mute greys out. */
function showMuted(id: string): void {
  const row = rows.get(id);
  const participant = id === SELF ? undefined : client.participants.get(id);
  const muted = id === SELF ? client.muted : (participant?.muted ?? false);
  const serverMuted = id === SELF ? client.serverMuted : (participant?.serverMuted ?? false);
  if (row) {
    row.element.classList.toggle("muted", muted || serverMuted);
    row.element.classList.toggle("server-muted", serverMuted);
    row.element.title = serverMuted ? "Muted by a moderator" : muted ? "Muted" : "";
    if (id === SELF && client.microphone) row.detail.textContent = selfDetail();
    else if (id !== SELF && row.audio) row.detail.textContent = remoteDetail(muted, serverMuted);
  }
  if (id === SELF) {
    muteButton.classList.toggle("locked", client.serverMuted);
    muteButton.title = client.serverMuted ? "A moderator muted you" : "";
    setControls(inRoom ? "joined" : "idle");
  }
}

/** The SFU's list: a ring around each speaker's avatar. */
function showSpeakers(ids: string[]): void {
  const speaking = new Set(ids);
  for (const [id, row] of rows) row.element.classList.toggle("speaking", speaking.has(id));
}

function remoteDetail(muted: boolean, serverMuted: boolean): string {
  if (serverMuted) return "muted by a moderator";
  return muted ? "muted" : "";
}

function selfDetail(): string {
  if (client.serverMuted) return "You · muted by a moderator";
  return client.muted ? "You · muted" : "You";
}

function resetRoom(): void {
  inRoom = false;
  for (const id of [...rows.keys()]) removeRow(id);
  setControls("idle");
}

function addSelf(displayName: string): void {
  const row = addRow(SELF, displayName, selfDetail());
  const microphone = client.microphone;
  if (microphone && audioContext) row.meter = new LevelMeter(audioContext, new MediaStream([microphone]));
  if (!microphone) row.detail.textContent = "You · listening only";
  showMuted(SELF);
}

function addRemote(participant: Participant): void {
  addRow(participant.peerId, participant.displayName ?? participant.userId, "connecting audio…");
  if (participant.stream) attachStream(participant.peerId, participant.stream);
  showMuted(participant.peerId);
}

function addRow(id: string, name: string, detail: string): Row {
  removeRow(id);
  const element = document.createElement("li");
  element.className = "participant";
  element.dataset.peerId = id;
  element.innerHTML = `<div class="avatar"><span class="mute-icon" aria-label="muted"></span></div><div class="who"><div class="name"></div><div class="detail"></div></div><div class="meter"><div></div></div>`;
  const avatar = element.querySelector<HTMLElement>(".avatar")!;
  avatar.prepend(initials(name));
  avatar.style.setProperty("--avatar", colour(id === SELF ? (client.peerId ?? id) : id));
  const row: Row = {
    element,
    avatar,
    name: element.querySelector<HTMLElement>(".name")!,
    detail: element.querySelector<HTMLElement>(".detail")!,
    bar: element.querySelector<HTMLElement>(".meter > div")!,
    meter: undefined,
    audio: undefined,
  };
  row.name.textContent = name;
  row.detail.textContent = detail;
  // You first, then the others in order of arrival.
  if (id === SELF) list.prepend(element);
  else list.append(element);
  rows.set(id, row);
  updateCount();
  return row;
}

function attachStream(peerId: string, stream: MediaStream): void {
  const row = rows.get(peerId);
  if (!row || !audioContext) return;
  row.meter?.close();
  row.audio ??= new Audio();
  row.audio.srcObject = stream;
  row.audio.play().catch(() => say("Click anywhere to enable audio playback.", true));
  row.meter = new LevelMeter(audioContext, stream);
  row.detail.textContent = "";
  showMuted(peerId);
}

function removeRow(id: string): void {
  const row = rows.get(id);
  if (!row) return;
  row.meter?.close();
  if (row.audio) row.audio.srcObject = null;
  row.element.remove();
  rows.delete(id);
  updateCount();
}

function updateMeters(): void {
  for (const row of rows.values()) {
    const level = row.meter?.read() ?? 0;
    row.bar.style.width = `${meterPercent(level)}%`;
  }
}

/** Loudness is heard logarithmically: show -60 dBFS..0 dBFS across the bar. */
function meterPercent(level: number): number {
  if (level <= 0) return 0;
  const decibels = 20 * Math.log10(level);
  return Math.max(0, Math.min(100, Math.round(((decibels + METER_FLOOR_DB) / METER_FLOOR_DB) * 100)));
}

function updateCount(): void {
  count.textContent = String(rows.size);
  empty.hidden = rows.size > 0;
}

function showState(state: ConnectionState): void {
  stateBadge.textContent = state;
  stateBadge.dataset.state = state;
  if (state === "disconnected" && inRoom) resetRoom();
}

function setControls(mode: "idle" | "busy" | "joined"): void {
  joinButton.disabled = mode !== "idle";
  roomInput.disabled = mode !== "idle";
  nameInput.disabled = mode !== "idle";
  leaveButton.disabled = mode !== "joined";
  // A moderator's mute cannot be lifted from here: the button greys out until it is.
  muteButton.disabled = mode !== "joined" || !client.microphone || client.serverMuted;
}

function say(text: string, isError = false): void {
  message.textContent = text;
  message.classList.toggle("error", isError);
}

function prefill(): void {
  const params = new URLSearchParams(location.search);
  roomInput.value = params.get("room") ?? "lobby";
  nameInput.value = params.get("name") ?? sessionStorage.getItem("sfu-demo-name") ?? "";
  nameInput.addEventListener("change", () => sessionStorage.setItem("sfu-demo-name", nameInput.value.trim()));
}

/** One user id per tab: two tabs with one id would replace each other (PROTOCOL §2). */
function userId(): string {
  let id = sessionStorage.getItem("sfu-demo-user");
  if (!id) {
    id = crypto.randomUUID();
    sessionStorage.setItem("sfu-demo-user", id);
  }
  return id;
}

function initials(name: string): string {
  const parts = name.split(/\s+/).filter(Boolean);
  return parts
    .slice(0, 2)
    .map((part) => part[0]?.toUpperCase() ?? "")
    .join("");
}

function colour(id: string): string {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return `hsl(${Math.abs(hash) % 360} 55% 50%)`;
}

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
