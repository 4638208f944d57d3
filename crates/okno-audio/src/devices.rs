//! Which sound system we talk to, what devices it has, and how a [`DeviceChoice`] resolves to one.
//!
//! On Linux two cpal hosts matter. PulseAudio (and PipeWire through pipewire-pulse) names every
//! sink and source, so a headset and a ring device can be chosen by name; it is preferred when
//! its socket is reachable. ALSA is the fallback for machines without a sound server; there its
//! `default` PCM still reaches PulseAudio through the ALSA pulse plugin when one runs.

use cpal::traits::{DeviceTrait, HostTrait};

use crate::{AudioError, Direction};

/// The sound system to open devices on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// PulseAudio when its server is reachable, else ALSA.
    #[default]
    Auto,
    PulseAudio,
    Alsa,
}

/// Which device a stream uses. Stored in settings as the operator picked it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum DeviceChoice {
    /// The system's default device, followed when it changes.
    #[default]
    Default,
    /// A device by its [`DeviceInfo::name`].
    Named(String),
    /// No device: capture delivers silence, playback discards (calls without a headset, tests).
    Null,
}

/// One device as the settings page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The stable name to store in [`DeviceChoice::Named`] (a PulseAudio sink/source name or an
    /// ALSA PCM name).
    pub name: String,
    /// A human-readable label.
    pub description: String,
    pub input: bool,
    pub output: bool,
    /// This is the system default for (one of) its directions.
    pub is_default: bool,
    /// The backend the name belongs to.
    pub backend: Backend,
}

/// Opens a cpal host for `backend`, returning the backend actually used.
pub(crate) fn open_host(backend: Backend) -> Result<(cpal::Host, Backend), AudioError> {
    let pulse = || {
        cpal::host_from_id(cpal::HostId::PulseAudio)
            .map(|h| (h, Backend::PulseAudio))
            .map_err(|e| AudioError::BackendUnavailable(format!("PulseAudio: {e}")))
    };
    let alsa = || {
        cpal::host_from_id(cpal::HostId::Alsa)
            .map(|h| (h, Backend::Alsa))
            .map_err(|e| AudioError::BackendUnavailable(format!("ALSA: {e}")))
    };
    match backend {
        Backend::PulseAudio => pulse(),
        Backend::Alsa => alsa(),
        Backend::Auto => {
            if cpal::available_hosts().contains(&cpal::HostId::PulseAudio)
                && let Ok(found) = pulse()
            {
                return Ok(found);
            }
            alsa()
        }
    }
}

/// The name a device is listed and chosen by.
pub(crate) fn device_name(device: &cpal::Device) -> String {
    match device.id() {
        Ok(id) => id.id().to_owned(),
        Err(_) => device.description().map(|d| d.name().to_owned()).unwrap_or_else(|_| "?".into()),
    }
}

fn supports(device: &cpal::Device, direction: Direction) -> bool {
    match direction {
        Direction::Input => device.supports_input(),
        Direction::Output => device.supports_output(),
    }
}

fn default_device(host: &cpal::Host, direction: Direction) -> Option<cpal::Device> {
    match direction {
        Direction::Input => host.default_input_device(),
        Direction::Output => host.default_output_device(),
    }
}

/// The name of the current default device for `direction`, if any.
pub(crate) fn default_name(host: &cpal::Host, direction: Direction) -> Option<String> {
    default_device(host, direction).map(|d| device_name(&d))
}

/// Resolves `choice` to a device. [`DeviceChoice::Null`] has no device and resolves to an error;
/// streams handle it before asking.
pub(crate) fn find_device(
    host: &cpal::Host,
    choice: &DeviceChoice,
    direction: Direction,
) -> Result<cpal::Device, AudioError> {
    match choice {
        DeviceChoice::Default => default_device(host, direction).ok_or(AudioError::NoDefaultDevice(direction)),
        DeviceChoice::Named(name) => host
            .devices()
            .map_err(|e| AudioError::BackendUnavailable(e.to_string()))?
            .find(|d| supports(d, direction) && device_name(d) == *name)
            .ok_or_else(|| AudioError::DeviceNotFound { name: name.clone(), direction }),
        DeviceChoice::Null => Err(AudioError::DeviceNotFound { name: "(none)".into(), direction }),
    }
}

/// Lists the devices of `backend` with their directions and which are the defaults.
pub fn list_devices(backend: Backend) -> Result<Vec<DeviceInfo>, AudioError> {
    let (host, backend) = open_host(backend)?;
    let default_in = default_name(&host, Direction::Input);
    let default_out = default_name(&host, Direction::Output);
    let devices = host.devices().map_err(|e| AudioError::BackendUnavailable(e.to_string()))?;
    Ok(devices
        .map(|d| {
            let name = device_name(&d);
            let (input, output) = (d.supports_input(), d.supports_output());
            let is_default =
                (input && default_in.as_deref() == Some(&name)) || (output && default_out.as_deref() == Some(&name));
            let description = d.description().map(|x| x.name().to_owned()).unwrap_or_else(|_| name.clone());
            DeviceInfo { name, description, input, output, is_default, backend }
        })
        .collect())
}

/// Checks that `choice` resolves to a device now, for a settings page's "device missing" hint.
/// Returns the device's name.
pub fn check_device(backend: Backend, choice: &DeviceChoice, direction: Direction) -> Result<String, AudioError> {
    let (host, _) = open_host(backend)?;
    find_device(&host, choice, direction).map(|d| device_name(&d))
}
