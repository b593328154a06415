//! The standard industrial data set: `devices` machines reporting 10
//! fields once a second for `seconds` seconds. Temperatures vary slowly
//! with noise (0.1 °C resolution, as sensors report), counters only rise,
//! the state is a small integer and `running` a boolean. Deterministic.

/// Fields per line.
pub const FIELDS: u64 = 10;

#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    pub devices: u32,
    pub seconds: u32,
    pub batch_lines: usize,
    /// Timestamp of the first second, ns.
    pub start_ns: i64,
}

impl Dataset {
    /// 500 devices × 10 fields × 1,000 s = 5,000,000 values.
    pub fn standard() -> Self {
        Dataset {
            devices: 500,
            seconds: 1000,
            batch_lines: 5000,
            start_ns: 1_767_225_600_000_000_000,
        }
    }

    /// Ten times longer: 50,000,000 values.
    pub fn long() -> Self {
        Dataset {
            seconds: 10_000,
            ..Self::standard()
        }
    }

    pub fn lines(&self) -> u64 {
        u64::from(self.devices) * u64::from(self.seconds)
    }

    pub fn points(&self) -> u64 {
        self.lines() * FIELDS
    }

    /// One past the last timestamp, ns.
    pub fn end_ns(&self) -> i64 {
        self.start_ns + i64::from(self.seconds) * 1_000_000_000
    }

    /// Line-protocol bodies of `batch_lines` lines, in time order.
    pub fn batches(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut body = String::with_capacity(self.batch_lines * 200);
        let mut in_batch = 0;
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut counts = vec![(0u64, 0u64); self.devices as usize];
        for t in 0..self.seconds {
            let ts = self.start_ns + i64::from(t) * 1_000_000_000;
            for d in 0..self.devices {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let noise = (rng % 11) as f64 * 0.1 - 0.5;
                let phase = f64::from(d) * 0.37;
                let x = f64::from(t) / 300.0 + phase;
                let spindle = ((55.0 + 8.0 * x.sin() + noise) * 10.0).round() / 10.0;
                let motor = ((48.0 + 5.0 * (x * 0.7).cos() + noise) * 10.0).round() / 10.0;
                let coolant = ((22.0 + 1.5 * (x * 0.3).sin()) * 10.0).round() / 10.0;
                let state = if (t / 120 + d) % 9 == 0 {
                    4
                } else if (t / 60 + d) % 5 == 0 {
                    2
                } else {
                    1
                };
                let running = state == 1;
                let c = &mut counts[d as usize];
                if running && (t + d) % 6 == 0 {
                    c.0 += 1;
                    if rng.is_multiple_of(50) {
                        c.1 += 1;
                    }
                }
                let power = if running {
                    ((30.0 + 2.0 * x.cos() + noise) * 10.0).round() / 10.0
                } else {
                    1.2
                };
                let vibration = if running {
                    ((2.0 + 0.3 * x.sin() + noise * 0.1) * 100.0).round() / 100.0
                } else {
                    0.0
                };
                let pressure = ((6.0 + 0.2 * (x * 2.0).sin()) * 100.0).round() / 100.0;
                body.push_str(&format!(
                    "telemetry,site=S1,line=L{:02},device=m{:04} temp_spindle={spindle},temp_motor={motor},temp_coolant={coolant},power_kw={power},vibration={vibration},pressure={pressure},count_good={}i,count_scrap={}i,state={state}i,running={running} {ts}\n",
                    d / 50, d, c.0, c.1
                ));
                in_batch += 1;
                if in_batch == self.batch_lines {
                    out.push(std::mem::take(&mut body));
                    in_batch = 0;
                }
            }
        }
        if !body.is_empty() {
            out.push(body);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_set_has_the_named_size_and_parses() {
        let d = Dataset {
            seconds: 20,
            ..Dataset::standard()
        };
        let batches = d.batches();
        assert_eq!(batches.len(), 2);
        let lines: usize = batches.iter().map(|b| b.lines().count()).sum();
        assert_eq!(lines as u64, d.lines());
        let parsed =
            zhizao_tsdb::lineproto::parse(&batches[0], zhizao_tsdb::lineproto::Precision::Ns, 0);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors.first());
        assert_eq!(parsed.batch.len() as u64, 5000 * FIELDS);
        assert_eq!(Dataset::standard().points(), 5_000_000);
        assert_eq!(Dataset::long().points(), 50_000_000);
    }
}
