//! Sound devices for calls: the operator's choice of microphone, headset and ring device, and a
//! call's audio through them.

use std::sync::{Arc, Mutex};

use okno_phone::bridge::Bridge;
use okno_phone::engine::{self, PhoneCommand};

use super::{DEVICE_KEYS, DeviceChoices, PhoneService, Recordings, Result, device_choice};
use crate::error::{ErrorCode, UiError};

impl PhoneService {
    /// The devices there are, and which the operator chose.
    pub(crate) fn audio_devices(&self) -> okno_softphone::AudioDevices {
        let chosen = self.devices.lock().unwrap_or_else(|e| e.into_inner()).clone();
        okno_softphone::AudioDevices { input: chosen.input, output: chosen.output, ring: chosen.ring, ..list_devices() }
    }

    /// The operator picks the microphone, the headset and the ring device (`None`: the system
    /// default). A call that is up moves to them at once, without being dropped; the next ring
    /// uses the new ring device.
    pub(crate) async fn set_audio_devices(
        &self,
        input: Option<String>,
        output: Option<String>,
        ring: Option<String>,
    ) -> Result<okno_softphone::AudioDevices> {
        let known = list_devices();
        let check = |name: &Option<String>, list: &[okno_softphone::AudioDevice], what: &str| match name {
            Some(n) if !list.iter().any(|d| &d.name == n) => {
                Err(UiError { code: ErrorCode::NotFound, message: format!("no {what} device named {n:?}") })
            }
            _ => Ok(()),
        };
        check(&input, &known.inputs, "input")?;
        check(&output, &known.outputs, "output")?;
        check(&ring, &known.outputs, "output")?;
        let choices = DeviceChoices { input, output, ring };
        for (key, value) in DEVICE_KEYS.iter().zip([&choices.input, &choices.output, &choices.ring]) {
            // An empty value is "the default", so an old choice is not left behind.
            self.store.set_setting(key, value.as_deref().unwrap_or("")).await?;
        }
        *self.devices.lock().unwrap_or_else(|e| e.into_inner()) = choices;
        // The ringer reopens on the new device at the next ring.
        self.ringer.lock().unwrap_or_else(|e| e.into_inner()).take();
        let _ = self.send(PhoneCommand::ReopenAudio);
        tracing::info!("sound devices chosen");
        Ok(self.audio_devices())
    }

    pub(super) async fn load_device_choices(&self) -> Result<()> {
        let mut values = Vec::new();
        for key in DEVICE_KEYS {
            values.push(self.store.setting(key).await?.filter(|v| !v.is_empty()));
        }
        let [input, output, ring]: [Option<String>; 3] = values.try_into().unwrap_or_default();
        *self.devices.lock().unwrap_or_else(|e| e.into_inner()) = DeviceChoices { input, output, ring };
        Ok(())
    }
}

/// The sound devices the system has. No sound system is an empty list, not an error: the
/// operator can still take calls, silent.
pub(super) fn list_devices() -> okno_softphone::AudioDevices {
    let devices = okno_audio::list_devices(okno_audio::Backend::Auto).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "no sound devices listed");
        Vec::new()
    });
    let pick = |want: fn(&okno_audio::DeviceInfo) -> bool| {
        devices
            .iter()
            .filter(|d| want(d))
            .map(|d| okno_softphone::AudioDevice { name: d.name.clone(), is_default: d.is_default })
            .collect()
    };
    okno_softphone::AudioDevices { inputs: pick(|d| d.input), outputs: pick(|d| d.output), ..Default::default() }
}

/// A call's audio through the sound devices: the default input and output, followed when they
/// change or are unplugged (`okno-audio`). A device that is missing never fails the call: the
/// streams carry on silent and say so in the log.
pub(super) struct DeviceMedia {
    pub(super) devices: Arc<Mutex<DeviceChoices>>,
    pub(super) recordings: Recordings,
    pub(super) conference: Arc<Mutex<Option<Arc<Bridge>>>>,
}

impl engine::MediaIo for DeviceMedia {
    fn open(
        &mut self,
        call_id: &str,
        _number: u32,
        rate: u32,
    ) -> (Box<dyn okno_phone::media::AudioSource>, Box<dyn okno_phone::media::AudioSink>) {
        use okno_audio::{CaptureStream, FrameRate, PlaybackStream, StreamOptions};
        let streams = FrameRate::try_from(rate).and_then(|rate| {
            let chosen = self.devices.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let mic = CaptureStream::open(device_choice(&chosen.input), rate, StreamOptions::default())?;
            let headset = PlaybackStream::open(device_choice(&chosen.output), rate, StreamOptions::default())?;
            Ok((mic, headset))
        });
        let (source, sink): (Box<dyn okno_phone::media::AudioSource>, Box<dyn okno_phone::media::AudioSink>) =
            match streams {
                Ok((mic, headset)) => (Box::new(Microphone(mic)), Box::new(Headset(headset))),
                Err(e) => {
                    tracing::warn!(call_id, error = %e, "no sound devices for this call: it carries on silent");
                    (Box::new(okno_phone::media::Silence), Box::new(okno_phone::media::Discard))
                }
            };
        // In a conference each call also hears the other; the recording keeps all of it.
        let bridge = self.conference.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (source, sink) = match bridge.filter(|b| b.contains(call_id)) {
            Some(b) => (b.tap_source(call_id, source), b.tap_sink(call_id, sink)),
            None => (source, sink),
        };
        match self.recordings.for_call(call_id, rate) {
            Some(recorder) => (recorder.tap_source(source), recorder.tap_sink(sink)),
            None => (source, sink),
        }
    }
}

struct Microphone(okno_audio::CaptureStream);

impl okno_phone::media::AudioSource for Microphone {
    fn read_frame(&mut self, frame: &mut [i16]) {
        // The call takes one frame per 20 ms tick; frames the device delivered beyond a couple
        // would only add delay, so the oldest go.
        while self.0.frames_waiting() > 2 {
            let _ = self.0.try_read_frame(frame);
        }
        if self.0.try_read_frame(frame).is_none() {
            frame.fill(0);
        }
    }
}

struct Headset(okno_audio::PlaybackStream);

impl okno_phone::media::AudioSink for Headset {
    fn write_frame(&mut self, frame: &[i16]) {
        self.0.write_frame(frame);
    }
}
