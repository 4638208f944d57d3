//! Capture and playback streams that survive their devices.
//!
//! Each stream has three parties:
//! - the cpal audio callback, which converts between the device's format and the call's 20 ms
//!   mono frames and moves them through an `rtrb` ring (capture: frames; playback: samples);
//! - the call's side ([`CaptureStream::read_frame`], [`PlaybackStream::write_frame`]), which
//!   only touches its end of the ring;
//! - a supervisor thread that opens the device, watches it (error callbacks, callbacks that stop
//!   coming, the default device changing), reopens it, and while no device runs keeps the ring
//!   moving at real-time pace with silence, so the call notices nothing but quiet.
//!
//! The converter state (resampler, scratch buffers, the callback's ring end) sits in a mutex that
//! the callback only `try_lock`s: the supervisor holds it briefly to reconfigure between two
//! devices, when no callback runs, or to pace silence while no device is open.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{SampleFormat, StreamConfig, SupportedBufferSize};
use okno_media::resample::Resampler;

use crate::convert::{DeviceSample, downmix_to_mono, upmix_from_mono};
use crate::devices::{self, Backend, DeviceChoice};
use crate::resampler::RubatoResampler;
use crate::{AudioError, Direction, FrameRate, MAX_FRAME_SAMPLES};

/// How a stream is opened and supervised.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    pub backend: Backend,
    /// Capture: how much audio may wait for the call before frames are dropped (overrun).
    /// Playback: how much audio may be queued before writes are dropped.
    pub buffer: Duration,
    /// How often to retry a device that cannot be opened.
    pub retry_interval: Duration,
    /// A running device that has not called back for this long is reopened.
    pub stall_timeout: Duration,
    /// How often to check whether the default device changed ([`DeviceChoice::Default`]) or the
    /// named device is still there ([`DeviceChoice::Named`]).
    pub default_check_interval: Duration,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            backend: Backend::Auto,
            buffer: Duration::from_millis(200),
            retry_interval: Duration::from_millis(100),
            stall_timeout: Duration::from_millis(500),
            default_check_interval: Duration::from_millis(250),
        }
    }
}

/// What a stream is doing, as the UI shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceStatus {
    /// Not yet opened.
    Opening,
    /// Audio flows through `device`, at its native format.
    Running { device: String, backend: Backend, sample_rate: u32, channels: u16, format: String },
    /// No audio flows; the stream carries on with silence and retries the device.
    Silent { reason: SilentReason },
}

/// Why a stream is silent.
#[derive(Debug, Clone, PartialEq)]
pub enum SilentReason {
    /// [`DeviceChoice::Null`] was chosen.
    NullDevice,
    /// The device is missing, failed to open, failed, or stalled.
    Device(AudioError),
}

/// Counters of a capture stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames handed to the ring (device frames and silent ones).
    pub frames: u64,
    /// Frames dropped because the call did not read them in time.
    pub overruns: u64,
    /// Times the device was (re)opened successfully.
    pub opens: u64,
    /// The device's own buffering: callback time minus capture time of the first sample.
    pub device_latency: Duration,
    /// Delay added by resampling, at the call's rate.
    pub resampler_delay: Duration,
}

/// Counters of a playback stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaybackStats {
    /// Times the device needed audio and the queue had run dry after having had some; silence
    /// was played instead.
    pub underruns: u64,
    /// Writes (or parts of them) dropped because the queue was full.
    pub overruns: u64,
    pub opens: u64,
    /// Audio written and not yet taken by the device.
    pub queued: Duration,
    /// The device's own buffering: playback time minus callback time.
    pub device_latency: Duration,
    pub resampler_delay: Duration,
}

/// State shared between the call's side, the callback and the supervisor.
struct Shared {
    direction: Direction,
    choice: DeviceChoice,
    rate: FrameRate,
    options: StreamOptions,
    epoch: Instant,
    stop: AtomicBool,
    status: Mutex<DeviceStatus>,
    subscribers: Mutex<Vec<mpsc::Sender<DeviceStatus>>>,
    /// Set by the error callback; the supervisor reopens.
    failure: Mutex<Option<String>>,
    failed: AtomicBool,
    /// Microseconds since `epoch` of the last callback.
    last_callback_us: AtomicU64,
    device_latency_us: AtomicU64,
    resampler_delay_us: AtomicU64,
    frames: AtomicU64,
    overruns: AtomicU64,
    underruns: AtomicU64,
    opens: AtomicU64,
    /// The thread to wake: the capture reader waiting for a frame, or the supervisor.
    waiter: Mutex<Option<Thread>>,
    supervisor: Mutex<Option<Thread>>,
}

impl Shared {
    fn new(direction: Direction, choice: DeviceChoice, rate: FrameRate, options: StreamOptions) -> Self {
        Shared {
            direction,
            choice,
            rate,
            options,
            epoch: Instant::now(),
            stop: AtomicBool::new(false),
            status: Mutex::new(DeviceStatus::Opening),
            subscribers: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
            failed: AtomicBool::new(false),
            last_callback_us: AtomicU64::new(0),
            device_latency_us: AtomicU64::new(0),
            resampler_delay_us: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            overruns: AtomicU64::new(0),
            underruns: AtomicU64::new(0),
            opens: AtomicU64::new(0),
            waiter: Mutex::new(None),
            supervisor: Mutex::new(None),
        }
    }

    fn since_epoch_us(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_micros() as u64
    }

    /// Called at the top of every audio callback: cheap atomics only.
    fn on_callback(&self, device_latency: Duration) {
        // Never 0, which means "no callback yet" to the supervisor.
        self.last_callback_us.store(self.since_epoch_us(Instant::now()).max(1), Ordering::Relaxed);
        self.device_latency_us.store(device_latency.as_micros() as u64, Ordering::Relaxed);
    }

    fn fail(&self, detail: String) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(detail);
        }
        self.failed.store(true, Ordering::Release);
        wake(&self.supervisor);
    }

    fn status(&self) -> DeviceStatus {
        lock(&self.status).clone()
    }

    fn set_status(&self, status: DeviceStatus) {
        {
            let mut current = lock(&self.status);
            if *current == status {
                return;
            }
            *current = status.clone();
        }
        match &status {
            DeviceStatus::Running { device, sample_rate, channels, format, .. } => tracing::info!(
                direction = %self.direction, device, sample_rate, channels, format, "audio device running"
            ),
            DeviceStatus::Silent { reason: SilentReason::Device(e) } => {
                tracing::warn!(direction = %self.direction, error = %e, "audio device silent")
            }
            DeviceStatus::Silent { reason: SilentReason::NullDevice } | DeviceStatus::Opening => {}
        }
        lock(&self.subscribers).retain(|tx| tx.send(status.clone()).is_ok());
    }

    fn subscribe(&self) -> mpsc::Receiver<DeviceStatus> {
        let (tx, rx) = mpsc::channel();
        // The current status first, so a subscriber never misses the state it starts in.
        let _ = tx.send(self.status());
        lock(&self.subscribers).push(tx);
        rx
    }
}

/// Locks a mutex, taking the data even if a panicking thread poisoned it: every value behind
/// these mutexes stays consistent between statements.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Unparks the registered thread, if the slot is free right now (never blocks).
fn wake(slot: &Mutex<Option<Thread>>) {
    if let Ok(guard) = slot.try_lock()
        && let Some(t) = guard.as_ref()
    {
        t.unpark();
    }
}

/// What the supervisor needs from the direction-specific converter.
trait Core: Send + Sized + 'static {
    /// Sizes the converter for a device; called with no callback running.
    fn configure(&mut self, device_rate: u32, channels: usize, shared: &Shared) -> Result<(), AudioError>;
    /// Moves `samples` (at the call's rate) of silence through the ring while no device runs.
    fn idle(&mut self, samples: usize, shared: &Shared);
    /// Forgets partial frames when a device goes away.
    fn reset(&mut self);
    fn build(
        device: &cpal::Device,
        config: StreamConfig,
        format: SampleFormat,
        core: &Arc<Mutex<Self>>,
        shared: &Arc<Shared>,
    ) -> Result<cpal::Stream, cpal::Error>;
}

/// Device frames processed per step inside a callback: bounds the scratch buffers, so a large
/// callback is handled in pieces instead of allocating.
const PIECE_FRAMES: usize = 1024;

/// One frame in the capture ring.
#[derive(Clone, Copy)]
struct CaptureSlot {
    samples: [i16; MAX_FRAME_SAMPLES],
    captured_at: Instant,
}

struct CaptureCore {
    producer: rtrb::Producer<CaptureSlot>,
    frame: [i16; MAX_FRAME_SAMPLES],
    filled: usize,
    frame_len: usize,
    rate: u32,
    device_rate: u32,
    channels: usize,
    mono: Vec<i16>,
    resampled: Vec<i16>,
    resampler: RubatoResampler,
}

impl CaptureCore {
    fn push_frame(&mut self, captured_at: Instant, shared: &Shared) {
        self.filled = 0;
        let slot = CaptureSlot { samples: self.frame, captured_at };
        if self.producer.push(slot).is_ok() {
            shared.frames.fetch_add(1, Ordering::Relaxed);
            wake(&shared.waiter);
        } else {
            shared.overruns.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_data<T: DeviceSample>(&mut self, data: &[T], device_latency: Duration, shared: &Shared) {
        let now = Instant::now();
        let channels = self.channels.max(1);
        let total_frames = data.len() / channels;
        let resampler_delay = self.resampler.delay_samples();
        let mut done_frames = 0;
        for piece in data.chunks(PIECE_FRAMES * channels) {
            self.mono.clear();
            downmix_to_mono(piece, channels, &mut self.mono);
            done_frames += self.mono.len();
            self.resampled.clear();
            self.resampler.process(&self.mono, &mut self.resampled);
            let mut i = 0;
            while i < self.resampled.len() {
                let take = (self.frame_len - self.filled).min(self.resampled.len() - i);
                self.frame[self.filled..self.filled + take].copy_from_slice(&self.resampled[i..i + take]);
                self.filled += take;
                i += take;
                if self.filled == self.frame_len {
                    // Age of the frame's last sample: the device's buffering, the device audio that
                    // arrived after it in this callback, and what the resampler holds back.
                    let later = (self.resampled.len() - i) as u64 * 1_000_000 / self.rate as u64
                        + (total_frames - done_frames) as u64 * 1_000_000 / self.device_rate as u64
                        + resampler_delay as u64 * 1_000_000 / self.rate as u64;
                    let age = device_latency + Duration::from_micros(later);
                    self.push_frame(now.checked_sub(age).unwrap_or(now), shared);
                }
            }
        }
    }
}

impl Core for CaptureCore {
    fn configure(&mut self, device_rate: u32, channels: usize, shared: &Shared) -> Result<(), AudioError> {
        self.resampler = RubatoResampler::new(device_rate, self.rate)?;
        self.device_rate = device_rate;
        self.channels = channels;
        self.filled = 0;
        self.mono = Vec::with_capacity(PIECE_FRAMES);
        self.resampled = Vec::with_capacity(self.resampler.max_output(PIECE_FRAMES));
        let delay = self.resampler.delay_samples() as u64 * 1_000_000 / self.rate as u64;
        shared.resampler_delay_us.store(delay, Ordering::Relaxed);
        Ok(())
    }

    fn idle(&mut self, samples: usize, shared: &Shared) {
        let mut left = samples;
        while left > 0 {
            let take = (self.frame_len - self.filled).min(left);
            self.frame[self.filled..self.filled + take].fill(0);
            self.filled += take;
            left -= take;
            if self.filled == self.frame_len {
                self.push_frame(Instant::now(), shared);
            }
        }
    }

    fn reset(&mut self) {
        self.filled = 0;
        self.resampler.reset();
    }

    fn build(
        device: &cpal::Device,
        config: StreamConfig,
        format: SampleFormat,
        core: &Arc<Mutex<Self>>,
        shared: &Arc<Shared>,
    ) -> Result<cpal::Stream, cpal::Error> {
        fn build_typed<T: DeviceSample + cpal::SizedSample>(
            device: &cpal::Device,
            config: StreamConfig,
            core: &Arc<Mutex<CaptureCore>>,
            shared: &Arc<Shared>,
        ) -> Result<cpal::Stream, cpal::Error> {
            let (core, data_shared, err_shared) = (core.clone(), shared.clone(), shared.clone());
            device.build_input_stream::<T, _, _>(
                config,
                move |data: &[T], info: &cpal::InputCallbackInfo| {
                    let ts = info.timestamp();
                    let latency = ts.callback.saturating_duration_since(ts.capture);
                    data_shared.on_callback(latency);
                    match core.try_lock() {
                        Ok(mut core) => core.on_data(data, latency, &data_shared),
                        // The supervisor is reconfiguring: this block is lost, and counted.
                        Err(_) => {
                            data_shared.overruns.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                },
                move |e| err_shared.fail(e.to_string()),
                Some(OPEN_TIMEOUT),
            )
        }
        match format {
            SampleFormat::I16 => build_typed::<i16>(device, config, core, shared),
            SampleFormat::I32 => build_typed::<i32>(device, config, core, shared),
            _ => build_typed::<f32>(device, config, core, shared),
        }
    }
}

struct PlaybackCore {
    consumer: rtrb::Consumer<i16>,
    /// 10 ms at the call's rate: the unit taken from the ring per refill.
    chunk_len: usize,
    chunk: Vec<i16>,
    /// Mono audio at the device's rate, not yet written to the device.
    staged: Vec<i16>,
    staged_pos: usize,
    channels: usize,
    resampler: RubatoResampler,
    /// The ring ran dry; the next dry refill is not counted again.
    starved: bool,
}

impl PlaybackCore {
    fn refill(&mut self, shared: &Shared) {
        self.staged.clear();
        self.staged_pos = 0;
        self.chunk.clear();
        let available = self.consumer.slots().min(self.chunk_len);
        if let Ok(read) = self.consumer.read_chunk(available) {
            let (a, b) = read.as_slices();
            self.chunk.extend_from_slice(a);
            self.chunk.extend_from_slice(b);
            read.commit_all();
        }
        if available < self.chunk_len {
            // Count a starvation once per episode, and not before the first audio.
            if !self.starved {
                shared.underruns.fetch_add(1, Ordering::Relaxed);
            }
            self.starved = true;
            self.chunk.resize(self.chunk_len, 0);
        } else {
            self.starved = false;
        }
        self.resampler.process(&self.chunk, &mut self.staged);
    }

    fn on_data<T: DeviceSample>(&mut self, out: &mut [T], shared: &Shared) {
        let channels = self.channels.max(1);
        let frames = out.len() / channels;
        let mut done = 0;
        while done < frames {
            if self.staged_pos >= self.staged.len() {
                self.refill(shared);
                if self.staged.is_empty() {
                    // Cannot happen (every 10 ms chunk yields output); the rest stays silent
                    // rather than looping inside the audio callback.
                    break;
                }
            }
            let take = (frames - done).min(self.staged.len() - self.staged_pos);
            upmix_from_mono(
                &self.staged[self.staged_pos..self.staged_pos + take],
                channels,
                &mut out[done * channels..(done + take) * channels],
            );
            self.staged_pos += take;
            done += take;
        }
    }
}

impl Core for PlaybackCore {
    fn configure(&mut self, device_rate: u32, channels: usize, shared: &Shared) -> Result<(), AudioError> {
        self.resampler = RubatoResampler::new(shared.rate.hz(), device_rate)?;
        self.channels = channels;
        self.chunk = Vec::with_capacity(self.chunk_len);
        self.staged = Vec::with_capacity(self.resampler.max_output(self.chunk_len));
        self.staged_pos = 0;
        let delay = self.resampler.delay_samples() as u64 * 1_000_000 / device_rate as u64;
        shared.resampler_delay_us.store(delay, Ordering::Relaxed);
        Ok(())
    }

    fn idle(&mut self, samples: usize, _shared: &Shared) {
        // Discard at the device's pace so the writer keeps its rhythm and sees no overruns.
        let n = samples.min(self.consumer.slots());
        if let Ok(read) = self.consumer.read_chunk(n) {
            read.commit_all();
        }
    }

    fn reset(&mut self) {
        self.staged.clear();
        self.staged_pos = 0;
        self.resampler.reset();
    }

    fn build(
        device: &cpal::Device,
        config: StreamConfig,
        format: SampleFormat,
        core: &Arc<Mutex<Self>>,
        shared: &Arc<Shared>,
    ) -> Result<cpal::Stream, cpal::Error> {
        fn build_typed<T: DeviceSample + cpal::SizedSample>(
            device: &cpal::Device,
            config: StreamConfig,
            core: &Arc<Mutex<PlaybackCore>>,
            shared: &Arc<Shared>,
        ) -> Result<cpal::Stream, cpal::Error> {
            let (core, data_shared, err_shared) = (core.clone(), shared.clone(), shared.clone());
            device.build_output_stream::<T, _, _>(
                config,
                move |out: &mut [T], info: &cpal::OutputCallbackInfo| {
                    let ts = info.timestamp();
                    data_shared.on_callback(ts.playback.saturating_duration_since(ts.callback));
                    match core.try_lock() {
                        Ok(mut core) => core.on_data(out, &data_shared),
                        // cpal pre-fills the buffer with silence; the supervisor is reconfiguring.
                        Err(_) => {
                            data_shared.underruns.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                },
                move |e| err_shared.fail(e.to_string()),
                Some(OPEN_TIMEOUT),
            )
        }
        match format {
            SampleFormat::I16 => build_typed::<i16>(device, config, core, shared),
            SampleFormat::I32 => build_typed::<i32>(device, config, core, shared),
            _ => build_typed::<f32>(device, config, core, shared),
        }
    }
}

/// How long a backend may take to create a stream before we call the device failed.
const OPEN_TIMEOUT: Duration = Duration::from_secs(2);
/// A new stream gets this long to deliver its first callback before it counts as stalled.
const START_GRACE: Duration = Duration::from_millis(3000);

/// Opens the chosen device and starts a stream on it.
fn open_device<C: Core>(
    host: &cpal::Host,
    backend: Backend,
    core: &Arc<Mutex<C>>,
    shared: &Arc<Shared>,
) -> Result<(cpal::Stream, DeviceStatus), AudioError> {
    let direction = shared.direction;
    let t0 = Instant::now();
    let device = devices::find_device(host, &shared.choice, direction)?;
    tracing::debug!(%direction, ms = t0.elapsed().as_millis() as u64, "found device");
    let name = devices::device_name(&device);
    let unsupported = |detail: String| AudioError::UnsupportedDevice { device: name.clone(), detail };
    let native = match direction {
        Direction::Input => device.default_input_config(),
        Direction::Output => device.default_output_config(),
    }
    .map_err(|e| unsupported(e.to_string()))?;
    let (rate, channels) = (native.sample_rate(), native.channels());
    // We convert from i16, i32 and f32; anything else is asked for as f32 at the same rate.
    let format = match native.sample_format() {
        f @ (SampleFormat::I16 | SampleFormat::I32 | SampleFormat::F32) => f,
        other => {
            let ranges: Vec<_> = match direction {
                Direction::Input => device.supported_input_configs().map(|r| r.collect()),
                Direction::Output => device.supported_output_configs().map(|r| r.collect()),
            }
            .map_err(|e| unsupported(e.to_string()))?;
            let f32_ok = ranges
                .iter()
                .any(|r| r.sample_format() == SampleFormat::F32 && r.channels() == channels && r.contains_rate(rate));
            if !f32_ok {
                return Err(unsupported(format!("sample format {other} and no f32 alternative")));
            }
            SampleFormat::F32
        }
    };
    lock(core).configure(rate, channels as usize, shared)?;
    // Ask for 10 ms device periods: short enough for a call, long enough not to burn CPU.
    let period = rate / 100;
    let fixed = match native.buffer_size() {
        SupportedBufferSize::Range { min, max } if (*min..=*max).contains(&period) => {
            Some(cpal::BufferSize::Fixed(period))
        }
        _ => None,
    };
    let open_failed =
        |e: cpal::Error| AudioError::OpenFailed { device: name.clone(), direction, detail: e.to_string() };
    let config = |buffer_size| StreamConfig { channels, sample_rate: rate, buffer_size };
    let stream = match fixed {
        Some(size) => C::build(&device, config(size), format, core, shared)
            .or_else(|_| C::build(&device, config(cpal::BufferSize::Default), format, core, shared)),
        None => C::build(&device, config(cpal::BufferSize::Default), format, core, shared),
    }
    .map_err(open_failed)?;
    tracing::debug!(%direction, ms = t0.elapsed().as_millis() as u64, "built stream");
    stream.play().map_err(open_failed)?;
    tracing::debug!(%direction, ms = t0.elapsed().as_millis() as u64, "playing");
    let status =
        DeviceStatus::Running { device: name, backend, sample_rate: rate, channels, format: format.to_string() };
    Ok((stream, status))
}

/// The supervisor's loop: open, watch, reopen, and pace silence in between.
fn supervise<C: Core>(core: Arc<Mutex<C>>, shared: Arc<Shared>) {
    let options = shared.options.clone();
    let mut host: Option<(cpal::Host, Backend)> = None;
    let mut stream: Option<cpal::Stream> = None;
    let mut opened_at = Instant::now();
    let mut opened_name = String::new();
    let mut next_attempt = Instant::now();
    let mut next_default_check = Instant::now();
    // While silent: when silence started and how many samples of it were paced out.
    let mut silent_since: Option<(Instant, u64)> = None;
    if shared.choice == DeviceChoice::Null {
        shared.set_status(DeviceStatus::Silent { reason: SilentReason::NullDevice });
    }
    while !shared.stop.load(Ordering::Acquire) {
        let now = Instant::now();
        if stream.is_none() && shared.choice != DeviceChoice::Null && now >= next_attempt {
            let opened = match &host {
                Some((h, b)) => Ok((h, *b)),
                None => devices::open_host(options.backend)
                    .inspect(|_| tracing::debug!(ms = now.elapsed().as_millis() as u64, "host opened"))
                    .map(|found| &*host.insert(found))
                    .map(|(h, b)| (h, *b)),
            }
            .and_then(|(h, backend)| {
                shared.failed.store(false, Ordering::Release);
                shared.last_callback_us.store(0, Ordering::Relaxed);
                *lock(&shared.failure) = None;
                open_device(h, backend, &core, &shared)
            });
            match opened {
                Ok((s, status)) => {
                    if let DeviceStatus::Running { device, .. } = &status {
                        opened_name.clone_from(device);
                    }
                    stream = Some(s);
                    opened_at = Instant::now();
                    next_default_check = opened_at + options.default_check_interval;
                    silent_since = None;
                    shared.opens.fetch_add(1, Ordering::Relaxed);
                    shared.set_status(status);
                }
                Err(e) => {
                    tracing::debug!(error = %e, took_ms = now.elapsed().as_millis() as u64, "open failed");
                    // A fresh connection next time: the server may have restarted.
                    host = None;
                    next_attempt = now + options.retry_interval;
                    shared.set_status(DeviceStatus::Silent { reason: SilentReason::Device(e) });
                }
            }
        }
        if stream.is_some() {
            let device = || opened_name.clone();
            let direction = shared.direction;
            let last = shared.last_callback_us.load(Ordering::Relaxed);
            let since_last = Duration::from_micros(shared.since_epoch_us(now).saturating_sub(last));
            let mut lost = None;
            if shared.failed.load(Ordering::Acquire) {
                let detail = lock(&shared.failure).take().unwrap_or_else(|| "stream error".into());
                lost = Some(AudioError::StreamFailed { device: device(), direction, detail });
            } else if (last == 0 && now.duration_since(opened_at) > START_GRACE.max(options.stall_timeout))
                || (last != 0 && since_last > options.stall_timeout)
            {
                lost = Some(AudioError::Stalled { device: device(), direction, millis: since_last.as_millis() as u64 });
            } else if now >= next_default_check
                && let Some((h, _)) = &host
            {
                next_default_check = now + options.default_check_interval;
                match &shared.choice {
                    DeviceChoice::Default => {
                        if let Some(current) = devices::default_name(h, direction)
                            && current != opened_name
                        {
                            tracing::info!(%direction, from = %opened_name, to = %current, "default audio device changed");
                            // Not an error: reopen at once, without a silent status in between.
                            stream = None;
                            lock(&core).reset();
                            next_attempt = now;
                            continue;
                        }
                    }
                    // PulseAudio moves the streams of a vanished device to the default one. A
                    // call must not jump from the operator's headset to the room's speakers, so
                    // a named device that is gone makes the stream silent until it returns.
                    DeviceChoice::Named(_) => {
                        if let Err(e) = devices::find_device(h, &shared.choice, direction) {
                            lost = Some(e);
                        }
                    }
                    DeviceChoice::Null => {}
                }
            }
            if let Some(e) = lost {
                tracing::debug!(error = %e, "dropping the stream");
                stream = None;
                tracing::debug!("dropped");
                host = None;
                lock(&core).reset();
                next_attempt = now;
                shared.set_status(DeviceStatus::Silent { reason: SilentReason::Device(e) });
                continue;
            }
        }
        if stream.is_none() {
            let (since, paced) = silent_since.get_or_insert((now, 0));
            let due = now.duration_since(*since).as_micros() as u64 * shared.rate.hz() as u64 / 1_000_000;
            if due > *paced {
                lock(&core).idle((due - *paced) as usize, &shared);
                *paced = due;
            }
        }
        // Short sleeps while silent keep the paced silence smooth; an error callback unparks us.
        thread::park_timeout(if stream.is_none() { Duration::from_millis(10) } else { Duration::from_millis(20) });
    }
    drop(stream);
}

/// The supervisor thread and the shared state; stops the thread when dropped.
struct Supervised {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Supervised {
    fn start<C: Core>(core: C, shared: Shared) -> Result<Self, AudioError> {
        let shared = Arc::new(shared);
        let core = Arc::new(Mutex::new(core));
        let name = format!("okno-audio-{}", shared.direction);
        let thread_shared = shared.clone();
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || {
                *lock(&thread_shared.supervisor) = Some(thread::current());
                supervise(core, thread_shared)
            })
            .map_err(|e| AudioError::Thread(e.to_string()))?;
        Ok(Supervised { shared, thread: Some(thread) })
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// A microphone (or any input) delivering 20 ms mono frames at the call's rate.
pub struct CaptureStream {
    consumer: rtrb::Consumer<CaptureSlot>,
    frame_len: usize,
    supervised: Supervised,
}

impl CaptureStream {
    /// Starts capturing from `choice`. A device that is missing or fails does not make this fail:
    /// the stream delivers silent frames and reports [`DeviceStatus::Silent`] until the device
    /// works.
    pub fn open(choice: DeviceChoice, rate: FrameRate, options: StreamOptions) -> Result<Self, AudioError> {
        let frame_len = rate.frame_samples();
        let slots = (options.buffer.as_millis() as usize / 20).max(2);
        let (producer, consumer) = rtrb::RingBuffer::new(slots);
        let core = CaptureCore {
            producer,
            frame: [0; MAX_FRAME_SAMPLES],
            filled: 0,
            frame_len,
            rate: rate.hz(),
            device_rate: rate.hz(),
            channels: 1,
            mono: Vec::new(),
            resampled: Vec::new(),
            resampler: RubatoResampler::new(rate.hz(), rate.hz())?,
        };
        let shared = Shared::new(Direction::Input, choice, rate, options);
        Ok(CaptureStream { consumer, frame_len, supervised: Supervised::start(core, shared)? })
    }

    /// Samples in one frame (160, 320 or 960).
    pub fn frame_samples(&self) -> usize {
        self.frame_len
    }

    /// Takes the oldest waiting frame into `out` (up to `out.len()` samples) and returns when its
    /// last sample was captured; `None` if no frame is waiting.
    pub fn try_read_frame(&mut self, out: &mut [i16]) -> Option<Instant> {
        let slot = self.consumer.pop().ok()?;
        let n = out.len().min(self.frame_len);
        out[..n].copy_from_slice(&slot.samples[..n]);
        Some(slot.captured_at)
    }

    /// Like [`Self::try_read_frame`], waiting up to `timeout` for a frame.
    pub fn read_frame(&mut self, out: &mut [i16], timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        *lock(&self.supervised.shared.waiter) = Some(thread::current());
        let got = loop {
            if let Some(at) = self.try_read_frame(out) {
                break Some(at);
            }
            let now = Instant::now();
            if now >= deadline {
                break None;
            }
            thread::park_timeout(deadline - now);
        };
        *lock(&self.supervised.shared.waiter) = None;
        got
    }

    /// Frames waiting to be read.
    pub fn frames_waiting(&self) -> usize {
        self.consumer.slots()
    }

    pub fn status(&self) -> DeviceStatus {
        self.supervised.shared.status()
    }

    /// Status changes from now on, starting with the current status.
    pub fn subscribe(&self) -> mpsc::Receiver<DeviceStatus> {
        self.supervised.shared.subscribe()
    }

    pub fn stats(&self) -> CaptureStats {
        let s = &self.supervised.shared;
        CaptureStats {
            frames: s.frames.load(Ordering::Relaxed),
            overruns: s.overruns.load(Ordering::Relaxed),
            opens: s.opens.load(Ordering::Relaxed),
            device_latency: Duration::from_micros(s.device_latency_us.load(Ordering::Relaxed)),
            resampler_delay: Duration::from_micros(s.resampler_delay_us.load(Ordering::Relaxed)),
        }
    }
}

/// A speaker or headset taking mono samples at the call's rate.
pub struct PlaybackStream {
    producer: rtrb::Producer<i16>,
    rate: FrameRate,
    supervised: Supervised,
}

impl PlaybackStream {
    /// Starts playback on `choice`; like [`CaptureStream::open`], device trouble makes the stream
    /// silent, not an error.
    pub fn open(choice: DeviceChoice, rate: FrameRate, options: StreamOptions) -> Result<Self, AudioError> {
        let capacity = (options.buffer.as_micros() as usize * rate.hz() as usize / 1_000_000).max(rate.frame_samples());
        let (producer, consumer) = rtrb::RingBuffer::new(capacity);
        let chunk_len = rate.hz() as usize / 100;
        let core = PlaybackCore {
            consumer,
            chunk_len,
            chunk: Vec::new(),
            staged: Vec::new(),
            staged_pos: 0,
            channels: 1,
            resampler: RubatoResampler::new(rate.hz(), rate.hz())?,
            starved: true,
        };
        let shared = Shared::new(Direction::Output, choice, rate, options);
        Ok(PlaybackStream { producer, rate, supervised: Supervised::start(core, shared)? })
    }

    pub fn rate(&self) -> FrameRate {
        self.rate
    }

    /// Queues samples for playback; returns how many were taken. What does not fit is dropped and
    /// counted as an overrun: the writer is running ahead of the device.
    pub fn write_frame(&mut self, samples: &[i16]) -> usize {
        let n = samples.len().min(self.producer.slots());
        if let Ok(chunk) = self.producer.write_chunk_uninit(n) {
            chunk.fill_from_iter(samples[..n].iter().copied());
        }
        if n < samples.len() {
            self.supervised.shared.overruns.fetch_add(1, Ordering::Relaxed);
        }
        n
    }

    /// Audio written and not yet taken by the device (or by the silent pacing).
    pub fn queued(&self) -> Duration {
        let queued = self.producer.buffer().capacity() - self.producer.slots();
        Duration::from_micros(queued as u64 * 1_000_000 / self.rate.hz() as u64)
    }

    pub fn status(&self) -> DeviceStatus {
        self.supervised.shared.status()
    }

    pub fn subscribe(&self) -> mpsc::Receiver<DeviceStatus> {
        self.supervised.shared.subscribe()
    }

    pub fn stats(&self) -> PlaybackStats {
        let s = &self.supervised.shared;
        PlaybackStats {
            underruns: s.underruns.load(Ordering::Relaxed),
            overruns: s.overruns.load(Ordering::Relaxed),
            opens: s.opens.load(Ordering::Relaxed),
            queued: self.queued(),
            device_latency: Duration::from_micros(s.device_latency_us.load(Ordering::Relaxed)),
            resampler_delay: Duration::from_micros(s.resampler_delay_us.load(Ordering::Relaxed)),
        }
    }
}
