//! The figures of the field benchmark: named as issue 7 lists them, printed as a table and
//! written as `{"figures": {"<name>": {"value": n, "unit": "..."}}, "config": {...}}`.
//!
//! Ours carry their bare names (`week_offline_ms`); a peer's carry its prefix
//! (`automerge_repo_week_offline_ms`, `samod_week_offline_ms`), and the comparisons are
//! `vs_<peer>_<what>_ratio`, the peer's value divided by ours: above 1, we are faster
//! (times) or smaller (bytes); for throughput, above 1 the peer is faster.

use std::collections::BTreeMap;

/// One side of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Ours,
    AutomergeRepo,
    Samod,
    /// PouchDB with pouchdb-server, set up as its documentation advises.
    PouchDb,
    /// PouchDB with pouchdb-server, its replication and HTTP out of the box.
    PouchDbDefault,
}

impl Side {
    pub const PEERS: [Side; 4] = [
        Side::AutomergeRepo,
        Side::Samod,
        Side::PouchDb,
        Side::PouchDbDefault,
    ];

    /// Prefix of the side's figure names (`""` for ours).
    pub fn prefix(self) -> &'static str {
        match self {
            Side::Ours => "",
            Side::AutomergeRepo => "automerge_repo_",
            Side::Samod => "samod_",
            Side::PouchDb => "pouchdb_",
            Side::PouchDbDefault => "pouchdb_default_",
        }
    }

    /// As the command line and the table name it.
    pub fn label(self) -> &'static str {
        match self {
            Side::Ours => "fieldsync",
            Side::AutomergeRepo => "automerge-repo",
            Side::Samod => "samod",
            Side::PouchDb => "pouchdb",
            Side::PouchDbDefault => "pouchdb-default",
        }
    }

    pub fn parse(text: &str) -> Option<Side> {
        std::iter::once(Side::Ours)
            .chain(Side::PEERS)
            .find(|s| s.label() == text || (text == "ours" && *s == Side::Ours))
    }

    pub fn name(self, figure: &str) -> String {
        format!("{}{figure}", self.prefix())
    }
}

/// The comparisons, each: (ratio's middle name, the figure compared): the four issue 7
/// names, and the week over bad links (issue 19).
pub const RATIOS: [(&str, &str); 6] = [
    ("week_offline_time", "week_offline_ms"),
    ("new_phone_time", "new_phone_ms"),
    ("many_phones_throughput", "many_phones_changes_per_s"),
    ("week_offline_bytes", "week_offline_bytes"),
    ("bad_link_3g_time", "bad_link_3g_ms"),
    ("bad_link_2g_time", "bad_link_2g_ms"),
];

/// Where a peer ran many phones at a smaller size than ours, ours at that size, under the
/// peer's prefix: (our figure, ours at the peer's size).
const SAME_SIZE: [(&str, &str); 1] = [(
    "many_phones_changes_per_s",
    "many_phones_fieldsync_changes_per_s",
)];

/// `vs_<peer>_<what>_ratio`.
pub fn ratio_name(peer: Side, what: &str) -> String {
    format!("vs_{}{what}_ratio", peer.prefix())
}

/// Figures by name: value and unit.
#[derive(Debug, Default)]
pub struct Figures(BTreeMap<String, (f64, String)>);

impl Figures {
    pub fn add(&mut self, name: &str, value: f64, unit: &str) {
        println!("  {name:<52} {value:>14.2} {unit}");
        self.0.insert(name.to_owned(), (value, unit.to_owned()));
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).map(|(v, _)| *v).filter(|v| v.is_finite())
    }

    /// Adds `vs_<peer>_*_ratio` for every comparison whose two figures were measured.
    pub fn add_ratios(&mut self) {
        for peer in Side::PEERS {
            for (what, figure) in RATIOS {
                let theirs = self.get(&peer.name(figure));
                // Like with like: ours at the peer's size when it ran a smaller one.
                let ours_there = SAME_SIZE
                    .iter()
                    .find(|(f, _)| *f == figure)
                    .and_then(|(_, there)| self.get(&peer.name(there)));
                let ours = ours_there.or_else(|| self.get(figure));
                if let (Some(theirs), Some(ours)) = (theirs, ours)
                    && ours > 0.0
                {
                    self.add(&ratio_name(peer, what), theirs / ours, "x");
                }
            }
        }
    }

    /// The JSON document: figures rounded to 3 decimals, and the run's configuration.
    pub fn json(&self, config: serde_json::Value) -> serde_json::Value {
        let figures: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .map(|(name, (value, unit))| {
                let value = if value.is_finite() {
                    serde_json::json!((value * 1000.0).round() / 1000.0)
                } else {
                    serde_json::Value::Null
                };
                (
                    name.clone(),
                    serde_json::json!({ "value": value, "unit": unit }),
                )
            })
            .collect();
        serde_json::json!({ "figures": figures, "config": config })
    }

    /// The readable table: one row per figure of ours, the peers' beside it, then the
    /// ratios, then whatever else was measured.
    pub fn table(&self) -> String {
        let mut out = format!("{:<34} {:>14}", "figure", "fieldsync");
        for peer in Side::PEERS {
            out += &format!(" {:>15}", peer.label());
        }
        out += "  unit\n";
        let cell = |name: &str| {
            self.get(name)
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
        };
        let mut shown = std::collections::BTreeSet::new();
        for (name, (_, unit)) in &self.0 {
            if Side::PEERS.iter().any(|p| name.starts_with(p.prefix())) || name.starts_with("vs_") {
                continue;
            }
            out += &format!("{name:<34} {:>14}", cell(name));
            for peer in Side::PEERS {
                out += &format!(" {:>15}", cell(&peer.name(name)));
                shown.insert(peer.name(name));
            }
            out += &format!("  {unit}\n");
            shown.insert(name.clone());
        }
        out +=
            "\npeer ÷ fieldsync (above 1: fieldsync faster or smaller; throughput: the peer's)\n";
        for (name, (value, _)) in self.0.iter().filter(|(n, _)| n.starts_with("vs_")) {
            out += &format!("{name:<52} {value:>10.2}x\n");
            shown.insert(name.clone());
        }
        let rest: Vec<_> = self.0.iter().filter(|(n, _)| !shown.contains(*n)).collect();
        if !rest.is_empty() {
            out += "\nthe peers' other figures\n";
            for (name, (value, unit)) in rest {
                out += &format!("{name:<52} {value:>12.1} {unit}\n");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_the_peer_divided_by_ours_under_the_names_the_issue_lists() {
        let mut figures = Figures::default();
        figures.add("week_offline_ms", 100.0, "ms");
        figures.add("automerge_repo_week_offline_ms", 900.0, "ms");
        figures.add("samod_week_offline_ms", 400.0, "ms");
        figures.add("many_phones_changes_per_s", 1000.0, "changes/s");
        figures.add("samod_many_phones_changes_per_s", 250.0, "changes/s");
        figures.add_ratios();
        assert_eq!(
            figures.get("vs_automerge_repo_week_offline_time_ratio"),
            Some(9.0)
        );
        assert_eq!(figures.get("vs_samod_week_offline_time_ratio"), Some(4.0));
        assert_eq!(
            figures.get("vs_samod_many_phones_throughput_ratio"),
            Some(0.25)
        );
        // Not measured on both sides: no ratio rather than a made-up one.
        assert_eq!(figures.get("vs_automerge_repo_new_phone_time_ratio"), None);
    }

    #[test]
    fn a_peer_that_ran_fewer_phones_is_compared_with_ours_at_its_size() {
        let mut figures = Figures::default();
        figures.add("many_phones_changes_per_s", 4000.0, "changes/s");
        figures.add("samod_many_phones_changes_per_s", 500.0, "changes/s");
        figures.add(
            "samod_many_phones_fieldsync_changes_per_s",
            2000.0,
            "changes/s",
        );
        figures.add(
            "automerge_repo_many_phones_changes_per_s",
            400.0,
            "changes/s",
        );
        figures.add_ratios();
        assert_eq!(
            figures.get("vs_samod_many_phones_throughput_ratio"),
            Some(0.25)
        );
        assert_eq!(
            figures.get("vs_automerge_repo_many_phones_throughput_ratio"),
            Some(0.1)
        );
    }

    #[test]
    fn pouchdb_tuned_and_out_of_the_box_have_ratios_of_their_own() {
        let mut figures = Figures::default();
        figures.add("new_phone_ms", 100.0, "ms");
        figures.add("pouchdb_new_phone_ms", 300.0, "ms");
        figures.add("pouchdb_default_new_phone_ms", 500.0, "ms");
        figures.add("bad_link_3g_ms", 1000.0, "ms");
        figures.add("pouchdb_bad_link_3g_ms", 7000.0, "ms");
        figures.add_ratios();
        assert_eq!(figures.get("vs_pouchdb_bad_link_3g_time_ratio"), Some(7.0));
        assert_eq!(figures.get("vs_pouchdb_new_phone_time_ratio"), Some(3.0));
        assert_eq!(
            figures.get("vs_pouchdb_default_new_phone_time_ratio"),
            Some(5.0)
        );
        assert_eq!(Side::parse("pouchdb-default"), Some(Side::PouchDbDefault));
    }

    #[test]
    fn the_json_has_every_figure_with_its_value_and_unit_under_figures() {
        let mut figures = Figures::default();
        figures.add("new_phone_ms", 1234.56789, "ms");
        figures.add("samod_new_phone_ms", f64::NAN, "ms");
        let json = figures.json(serde_json::json!({ "quick": true }));
        assert_eq!(json["figures"]["new_phone_ms"]["value"], 1234.568);
        assert_eq!(json["figures"]["new_phone_ms"]["unit"], "ms");
        assert!(json["figures"]["samod_new_phone_ms"]["value"].is_null());
        assert_eq!(json["config"]["quick"], true);
    }

    #[test]
    fn the_table_puts_each_peers_figure_beside_ours() {
        let mut figures = Figures::default();
        figures.add("new_phone_ms", 10.0, "ms");
        figures.add("samod_new_phone_ms", 30.0, "ms");
        let table = figures.table();
        let row = table
            .lines()
            .find(|l| l.starts_with("new_phone_ms"))
            .expect("a row for new_phone_ms");
        assert!(row.contains("10.0") && row.contains("30.0") && row.contains(" - "));
    }
}
