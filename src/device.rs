//! `device:` in a spec (`auto`, `cpu`, `cuda`, `cuda:N`) and its resolution
//! to a `tch::Device` on the machine at hand.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The machine's physical memory in bytes (`MemTotal` of `/proc/meminfo`),
/// or `None` where it cannot be read (then no model is refused for size).
pub fn physical_memory() -> Option<u64> {
    static MEMORY: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *MEMORY.get_or_init(read_physical_memory)
}

fn read_physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// CUDA device 0 if available, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| format!("unknown device '{s}': use auto, cpu, cuda or cuda:N")),
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Auto => write!(f, "auto"),
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceSpec {
    /// The concrete device, or an error if CUDA is asked for and absent.
    pub fn resolve(self) -> anyhow::Result<tch::Device> {
        match self {
            DeviceSpec::Auto => Ok(tch::Device::cuda_if_available()),
            DeviceSpec::Cpu => Ok(tch::Device::Cpu),
            DeviceSpec::Cuda(n) => {
                let count = tch::Cuda::device_count() as usize;
                if count == 0 {
                    anyhow::bail!(
                        "device: cuda:{n} was requested but no CUDA device is available \
                         (this libtorch sees none); use `device: cpu` or `auto`"
                    );
                }
                if n >= count {
                    anyhow::bail!("device: cuda:{n} was requested but only {count} CUDA device(s) exist");
                }
                Ok(tch::Device::Cuda(n))
            }
        }
    }
}

/// `cpu` or `cuda:N`, as written in summaries.
pub fn name(device: tch::Device) -> String {
    match device {
        tch::Device::Cuda(n) => format!("cuda:{n}"),
        _ => "cpu".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::DeviceSpec;

    #[test]
    fn parses_and_prints() {
        for (s, d) in [
            ("auto", DeviceSpec::Auto),
            ("cpu", DeviceSpec::Cpu),
            ("cuda", DeviceSpec::Cuda(0)),
            ("cuda:3", DeviceSpec::Cuda(3)),
        ] {
            assert_eq!(s.parse::<DeviceSpec>().unwrap(), d);
        }
        assert_eq!(DeviceSpec::Cuda(0).to_string(), "cuda:0");
        assert!("gpu".parse::<DeviceSpec>().unwrap_err().contains("unknown device 'gpu'"));
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn cuda_without_a_gpu_is_a_clear_error() {
        if tch::Cuda::device_count() == 0 {
            let err = DeviceSpec::Cuda(0).resolve().unwrap_err().to_string();
            assert!(err.contains("no CUDA device"), "{err}");
            assert_eq!(DeviceSpec::Auto.resolve().unwrap(), tch::Device::Cpu);
        }
    }
}
