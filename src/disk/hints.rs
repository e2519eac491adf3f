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
            pairs.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(Hints { pairs })
    }
}
