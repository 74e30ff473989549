//! `sweep.pack`: how a sweep groups its pending trials into packs
//! (`crate::pack`). Not part of any trial.
use serde::{Deserialize, Serialize};

/// `sweep.pack` (and `rnnlab run --pack`): `off`, `auto` or a pack size K ≥ 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PackSetting {
    #[default]
    Off,
    Auto,
    Size(usize),
}

impl PackSetting {
    pub fn is_off(&self) -> bool {
        *self == PackSetting::Off
    }
}

impl std::str::FromStr for PackSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<PackSetting, String> {
        match s.trim() {
            "off" => Ok(PackSetting::Off),
            "auto" => Ok(PackSetting::Auto),
            n => match n.parse::<usize>() {
                Ok(k) if k >= 1 => Ok(PackSetting::Size(k)),
                _ => Err(format!("'{n}' is not a pack setting: expected off, auto or a pack size of at least 1")),
            },
        }
    }
}

impl Serialize for PackSetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PackSetting::Off => s.serialize_str("off"),
            PackSetting::Auto => s.serialize_str("auto"),
            PackSetting::Size(k) => s.serialize_u64(*k as u64),
        }
    }
}

impl<'de> Deserialize<'de> for PackSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PackSetting, D::Error> {
        let text = match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::String(s) => s,
            serde_yaml::Value::Number(n) => n.to_string(),
            other => return Err(serde::de::Error::custom(format!("expected off, auto or a pack size, not {other:?}"))),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}
