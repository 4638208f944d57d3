//! What every leg of the hotline hears, as 8 kHz PCM (the hotline speaks PCMU and PCMA only,
//! so no leg needs resampling).
//!
//! - A caller waiting in the queue hears the greeting, then music on hold in a loop, interrupted
//!   by the prompts the queue asks for (position, callback offer); the prompts come from WAV
//!   files in the config, and a missing file is a skipped prompt, never a silent line.
//! - Connected legs hear each other: what a leg receives is queued for every leg that hears it,
//!   one queue per (speaker, listener), and each listener's 20 ms media tick mixes a frame from
//!   each of its queues. The queues are capped at [`MAX_QUEUED`] so clocks drifting apart cannot
//!   grow the delay. A call is two legs hearing each other; a supervisor's leg hears both and is
//!   heard by the operator (whisper), by both (barge) or by nobody (listen): [`MonitorMode`].
//!
//! The engine asks for a call's audio (`MediaIo::open`) when its media starts; the driver may
//! bridge the leg before or after that moment, so a leg's audio is created by whichever comes
//! first ([`Legs::leg`]).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use okno_phone::engine::MediaIo;
use okno_phone::media::{AudioSink, AudioSource, read_wav_mono};

/// The PCM rate of every leg (PCMU and PCMA).
pub const RATE: u32 = 8_000;
/// At most 120 ms of one leg's speech waits for the other leg's tick.
pub const MAX_QUEUED: usize = 960;

/// Why a prompt could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("prompt {path}: {reason}")]
pub struct PromptError {
    pub path: String,
    pub reason: String,
}

/// The recordings a waiting caller hears, at [`RATE`].
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    pub greeting: Option<Arc<[i16]>>,
    /// Looped while nothing else plays; a soft generated pattern when none is configured.
    pub music: Arc<[i16]>,
    /// "Your place in the queue is", followed by the digit's recording.
    pub position: Option<Arc<[i16]>>,
    /// `digits[n]` says the number n (0-9); positions past 9 are said as "9".
    pub digits: Vec<Option<Arc<[i16]>>>,
    /// "Press 1 and we will call you back".
    pub callback_offer: Option<Arc<[i16]>>,
}

impl Prompts {
    /// No recordings: the built-in music only.
    pub fn built_in() -> Prompts {
        Prompts { music: default_music(), digits: vec![None; 10], ..Prompts::default() }
    }

    /// The prompts of a directory: `greeting.wav`, `music.wav`, `position.wav`, `0.wav` to
    /// `9.wav`, `callback.wav`; each optional. A file that is there but
    /// unreadable is an error (a typo in a prompt must not pass unnoticed).
    pub fn from_dir(dir: Option<&Path>) -> Result<Prompts, PromptError> {
        let load = |name: &str| -> Result<Option<Arc<[i16]>>, PromptError> {
            let Some(dir) = dir else { return Ok(None) };
            let path = dir.join(name);
            if !path.exists() {
                return Ok(None);
            }
            read_wav_mono(&path, RATE)
                .map(|s| Some(Arc::from(s)))
                .map_err(|e| PromptError { path: path.display().to_string(), reason: e.to_string() })
        };
        Ok(Prompts {
            greeting: load("greeting.wav")?,
            music: load("music.wav")?.unwrap_or_else(default_music),
            position: load("position.wav")?,
            digits: (0..10).map(|n| load(&format!("{n}.wav"))).collect::<Result<_, _>>()?,
            callback_offer: load("callback.wav")?,
        })
    }

    /// What a caller at `position` hears when the queue announces it (nothing without the
    /// recordings).
    pub fn position_announcement(&self, position: usize) -> Vec<Arc<[i16]>> {
        let Some(intro) = &self.position else { return Vec::new() };
        let digit = self.digits.get(position.min(9)).cloned().flatten();
        std::iter::once(intro.clone()).chain(digit).collect()
    }
}

/// The notes of the default music on hold, each [`NOTE_SAMPLES`] long with a short fade.
pub const DEFAULT_MUSIC_HZ: [f32; 4] = [523.25, 659.25, 783.99, 659.25];
const NOTE_SAMPLES: usize = RATE as usize / 2;

/// Two seconds of a soft arpeggio in a loop: a caller must hear the line is alive at any moment,
/// so there is no long pause in it.
fn default_music() -> Arc<[i16]> {
    let mut samples = Vec::with_capacity(DEFAULT_MUSIC_HZ.len() * NOTE_SAMPLES);
    for hz in DEFAULT_MUSIC_HZ {
        for i in 0..NOTE_SAMPLES {
            let t = i as f32 / RATE as f32;
            // 20 ms in and out, so the notes do not click.
            let edge = (i.min(NOTE_SAMPLES - 1 - i) as f32 / 160.0).min(1.0);
            samples.push(((2.0 * std::f32::consts::PI * hz * t).sin() * 2500.0 * edge) as i16);
        }
    }
    Arc::from(samples)
}

/// What a waiting caller hears next: queued prompts, else the music.
#[derive(Debug, Default)]
struct Player {
    queue: VecDeque<Arc<[i16]>>,
    playing: Option<(Arc<[i16]>, usize)>,
    music: Arc<[i16]>,
    music_at: usize,
}

impl Player {
    /// Queued prompts only (no music): what plays over a connected leg's voices.
    fn fill_prompts(&mut self, frame: &mut [i16]) {
        let music = std::mem::take(&mut self.music);
        self.fill(frame);
        self.music = music;
    }

    fn fill(&mut self, frame: &mut [i16]) {
        let mut written = 0;
        while written < frame.len() {
            if self.playing.is_none() {
                self.playing = self.queue.pop_front().map(|p| (p, 0));
            }
            match &mut self.playing {
                Some((prompt, at)) => {
                    let n = (frame.len() - written).min(prompt.len() - *at);
                    frame[written..written + n].copy_from_slice(&prompt[*at..*at + n]);
                    *at += n;
                    written += n;
                    if *at >= prompt.len() {
                        self.playing = None;
                    }
                }
                None if self.music.is_empty() => {
                    frame[written..].fill(0);
                    return;
                }
                None => {
                    let n = (frame.len() - written).min(self.music.len() - self.music_at);
                    frame[written..written + n].copy_from_slice(&self.music[self.music_at..self.music_at + n]);
                    self.music_at = (self.music_at + n) % self.music.len();
                    written += n;
                }
            }
        }
    }
}

/// One leg's audio.
#[derive(Debug, Default)]
pub struct LegAudio {
    id: u64,
    /// The legs that hear this one (its peer; a supervisor listening in).
    listeners: Mutex<Vec<Weak<LegAudio>>>,
    /// What each leg this one hears said, by that leg's id, waiting for this leg's tick. Empty:
    /// nobody is connected, and the player (greeting, prompts, music) speaks instead.
    inbox: Mutex<Vec<(u64, VecDeque<i16>)>>,
    player: Mutex<Player>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LegAudio {
    fn new(id: u64, music: Arc<[i16]>) -> LegAudio {
        LegAudio { id, player: Mutex::new(Player { music, ..Player::default() }), ..LegAudio::default() }
    }

    /// Plays `prompts` one after the other: over the music while waiting, over the other
    /// side's voice once connected (a supervisor's beep).
    pub fn play(&self, prompts: impl IntoIterator<Item = Arc<[i16]>>) {
        lock(&self.player).queue.extend(prompts);
    }

    fn read(&self, frame: &mut [i16]) {
        let mut inbox = lock(&self.inbox);
        if inbox.is_empty() {
            drop(inbox);
            return lock(&self.player).fill(frame);
        }
        frame.fill(0);
        for (_, heard) in inbox.iter_mut() {
            let n = frame.len().min(heard.len());
            for (out, sample) in frame.iter_mut().zip(heard.drain(..n)) {
                *out = out.saturating_add(sample);
            }
        }
        drop(inbox);
        let mut player = lock(&self.player);
        if !player.queue.is_empty() || player.playing.is_some() {
            let mut prompt = vec![0i16; frame.len()];
            player.fill_prompts(&mut prompt);
            for (out, sample) in frame.iter_mut().zip(prompt) {
                *out = out.saturating_add(sample);
            }
        }
    }

    fn write(&self, frame: &[i16]) {
        let listeners: Vec<Arc<LegAudio>> = lock(&self.listeners).iter().filter_map(Weak::upgrade).collect();
        for listener in listeners {
            let mut inbox = lock(&listener.inbox);
            let Some((_, heard)) = inbox.iter_mut().find(|(id, _)| *id == self.id) else { continue };
            heard.extend(frame.iter().copied());
            let surplus = heard.len().saturating_sub(MAX_QUEUED);
            heard.drain(..surplus);
        }
    }

    /// From now on `to` hears this leg.
    fn speak_to(&self, to: &Arc<LegAudio>) {
        let mut inbox = lock(&to.inbox);
        if !inbox.iter().any(|(id, _)| *id == self.id) {
            inbox.push((self.id, VecDeque::with_capacity(MAX_QUEUED)));
        }
        drop(inbox);
        let mut listeners = lock(&self.listeners);
        listeners.retain(|l| l.strong_count() > 0 && !std::ptr::eq(l.as_ptr(), Arc::as_ptr(to)));
        listeners.push(Arc::downgrade(to));
    }

    /// `to` no longer hears this leg.
    fn stop_speaking_to(&self, to: &Arc<LegAudio>) {
        lock(&self.listeners).retain(|l| l.strong_count() > 0 && !std::ptr::eq(l.as_ptr(), Arc::as_ptr(to)));
        lock(&to.inbox).retain(|(id, _)| *id != self.id);
    }
}

/// How a supervisor joins a live call (the supervisor always hears both sides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMode {
    /// Neither side hears the supervisor.
    Listen,
    /// Only the operator hears the supervisor (coaching).
    Whisper,
    /// Both sides hear the supervisor.
    Barge,
}

impl MonitorMode {
    /// The text form (`listen`, `whisper`, `barge`), as the server's API takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }

    /// The mode a supervisor's phone key switches to: 1 listen, 2 whisper, 3 barge.
    pub fn from_key(key: &str) -> Option<MonitorMode> {
        match key {
            "1" => Some(MonitorMode::Listen),
            "2" => Some(MonitorMode::Whisper),
            "3" => Some(MonitorMode::Barge),
            _ => None,
        }
    }
}

impl std::str::FromStr for MonitorMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [MonitorMode::Listen, MonitorMode::Whisper, MonitorMode::Barge]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("mode {s:?}: listen, whisper or barge"))
    }
}

/// Every leg's audio by its SIP call id; shared by the driver and the engine's media tasks.
#[derive(Debug, Clone, Default)]
pub struct Legs {
    inner: Arc<Mutex<HashMap<String, Arc<LegAudio>>>>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
    music: Arc<[i16]>,
}

impl Legs {
    pub fn new(music: Arc<[i16]>) -> Legs {
        Legs { music, ..Legs::default() }
    }

    /// The leg's audio, created on first use.
    pub fn leg(&self, call_id: &str) -> Arc<LegAudio> {
        lock(&self.inner)
            .entry(call_id.to_owned())
            .or_insert_with(|| {
                let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Arc::new(LegAudio::new(id, self.music.clone()))
            })
            .clone()
    }

    /// The two legs hear each other from now on.
    pub fn bridge(&self, a: &str, b: &str) {
        let (a, b) = (self.leg(a), self.leg(b));
        a.speak_to(&b);
        b.speak_to(&a);
    }

    /// A supervisor's leg joins the call of `caller` and `agent` (or changes how): they always
    /// hear both; who hears them depends on `mode`.
    pub fn monitor(&self, supervisor: &str, caller: &str, agent: &str, mode: MonitorMode) {
        let (supervisor, caller, agent) = (self.leg(supervisor), self.leg(caller), self.leg(agent));
        caller.speak_to(&supervisor);
        agent.speak_to(&supervisor);
        match mode {
            MonitorMode::Listen => {
                supervisor.stop_speaking_to(&agent);
                supervisor.stop_speaking_to(&caller);
            }
            MonitorMode::Whisper => {
                supervisor.speak_to(&agent);
                supervisor.stop_speaking_to(&caller);
            }
            MonitorMode::Barge => {
                supervisor.speak_to(&agent);
                supervisor.speak_to(&caller);
            }
        }
    }

    /// The leg ended: its audio goes, and nobody hears it any more.
    pub fn remove(&self, call_id: &str) {
        let Some(gone) = lock(&self.inner).remove(call_id) else { return };
        let listeners: Vec<Arc<LegAudio>> = lock(&gone.listeners).drain(..).filter_map(|l| l.upgrade()).collect();
        for listener in listeners {
            lock(&listener.inbox).retain(|(id, _)| *id != gone.id);
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl MediaIo for Legs {
    fn open(&mut self, call_id: &str, _number: u32, rate: u32) -> (Box<dyn AudioSource>, Box<dyn AudioSink>) {
        if rate != RATE {
            // The config refuses other codecs; this would be a bug, and silence is its symptom.
            tracing::error!(call_id, rate, "a hotline leg at a rate other than 8 kHz");
        }
        let leg = self.leg(call_id);
        (Box::new(LegSource(leg.clone())), Box::new(LegSink(leg)))
    }
}

struct LegSource(Arc<LegAudio>);

impl AudioSource for LegSource {
    fn read_frame(&mut self, frame: &mut [i16]) {
        self.0.read(frame);
    }
}

struct LegSink(Arc<LegAudio>);

impl AudioSink for LegSink {
    fn write_frame(&mut self, frame: &[i16]) {
        self.0.write(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(leg: &LegAudio) -> Vec<i16> {
        let mut frame = vec![0; 160];
        leg.read(&mut frame);
        frame
    }

    #[test]
    fn a_waiting_caller_hears_prompts_then_the_music_where_it_was() {
        let legs = Legs::new(Arc::from(vec![7i16; 400]));
        let caller = legs.leg("c1");
        assert_eq!(frame_of(&caller), vec![7; 160]);
        caller.play([Arc::from(vec![1i16; 100]), Arc::from(vec![2i16; 100])]);
        let frame = frame_of(&caller);
        assert_eq!(&frame[..100], &[1; 100][..]);
        assert_eq!(&frame[100..], &[2; 60][..]);
        let frame = frame_of(&caller);
        assert_eq!(&frame[..40], &[2; 40][..]);
        assert_eq!(&frame[40..], &[7; 120][..]);
    }

    #[test]
    fn bridged_legs_hear_each_other_and_nothing_of_the_music() {
        let legs = Legs::new(Arc::from(vec![7i16; 400]));
        legs.bridge("caller", "agent");
        let (caller, agent) = (legs.leg("caller"), legs.leg("agent"));
        caller.write(&[5; 160]);
        agent.write(&[9; 160]);
        assert_eq!(frame_of(&agent), vec![5; 160]);
        assert_eq!(frame_of(&caller), vec![9; 160]);
        // Nothing more was said: silence, not music.
        assert_eq!(frame_of(&caller), vec![0; 160]);
    }

    #[test]
    fn a_stalled_leg_cannot_grow_the_delay() {
        let legs = Legs::new(Arc::from(vec![0i16; 10]));
        legs.bridge("a", "b");
        let (a, b) = (legs.leg("a"), legs.leg("b"));
        for n in 0..50 {
            a.write(&[n; 160]);
        }
        let inbox = lock(&b.inbox);
        assert_eq!(inbox[0].1.len(), MAX_QUEUED);
        // What is kept is the latest speech.
        assert_eq!(*inbox[0].1.back().unwrap(), 49);
    }

    /// Listen, whisper, barge: who hears whom, with one voice level per leg.
    #[test]
    fn a_supervisor_hears_both_and_is_heard_as_the_mode_says() {
        let legs = Legs::new(Arc::from(vec![7i16; 400]));
        legs.bridge("caller", "agent");
        let (caller, agent, lead) = (legs.leg("caller"), legs.leg("agent"), legs.leg("lead"));
        let speak = || {
            caller.write(&[100; 160]);
            agent.write(&[20; 160]);
            lead.write(&[3; 160]);
        };
        let heard = |leg: &LegAudio| frame_of(leg)[0];
        for (mode, at_caller, at_agent) in [
            (MonitorMode::Listen, 20, 100),
            (MonitorMode::Whisper, 20, 103),
            (MonitorMode::Barge, 23, 103),
            (MonitorMode::Listen, 20, 100),
        ] {
            legs.monitor("lead", "caller", "agent", mode);
            speak();
            assert_eq!((heard(&caller), heard(&agent), heard(&lead)), (at_caller, at_agent, 120), "{mode:?}");
        }
        // The supervisor hangs up: the call is as before.
        legs.remove("lead");
        speak();
        assert_eq!((heard(&caller), heard(&agent)), (20, 100));
    }

    #[test]
    fn a_beep_plays_over_a_connected_leg_without_the_music() {
        let legs = Legs::new(Arc::from(vec![7i16; 400]));
        legs.bridge("caller", "agent");
        let agent = legs.leg("agent");
        legs.leg("caller").write(&[100; 160]);
        agent.play([Arc::from(vec![5i16; 80])]);
        let frame = frame_of(&agent);
        assert_eq!((frame[0], frame[100]), (105, 100));
        assert_eq!(frame_of(&agent)[0], 0, "no music under a connected leg");
    }

    #[test]
    fn the_default_music_is_not_silence() {
        let music = default_music();
        assert_eq!(music.len(), 2 * RATE as usize);
        // No quarter second of it is quiet.
        for quarter in music.chunks(RATE as usize / 4) {
            assert!(quarter.iter().any(|&s| s.abs() > 1000));
        }
    }

    #[test]
    fn positions_are_said_with_the_recordings_there_are() {
        let none = Prompts { music: default_music(), ..Prompts::default() };
        assert!(none.position_announcement(3).is_empty());
        let mut digits = vec![None; 10];
        digits[3] = Some(Arc::from(vec![3i16; 10]));
        let some = Prompts { position: Some(Arc::from(vec![1i16; 10])), digits, ..none };
        let said = some.position_announcement(3);
        assert_eq!(said.len(), 2);
        assert_eq!(said[1][0], 3);
        assert_eq!(some.position_announcement(12).len(), 1, "no recording of 9: the intro alone");
    }
}
