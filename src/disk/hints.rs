//! `disk_hint`: `key=value` pairs that narrow `disk=auto`.

#[derive(Debug, Clone, Default)]
pub struct Hints {
    pub pairs: Vec<(String, String)>,
}

impl Hints {
    pub fn parse(s: &str) -> Result<Hints, String> {
        let mut pairs = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| format!("hint {item:?} is not key=value"))?;
            const KEYS: &[&str] = &[
                "size",
                "min_size",
                "max_size",
                "model",
                "vendor",
                "serial",
                "wwn",
                "rotational",
                "by_path",
                "name",
            ];
            if !KEYS.contains(&k.trim()) {
                return Err(format!(
                    "unknown hint {:?}; known: {}",
                    k.trim(),
                    KEYS.join(", ")
                ));
            }
            pairs.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(Hints { pairs })
    }
}
