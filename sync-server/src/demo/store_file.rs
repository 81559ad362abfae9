//! The demo district's store file: about 1,000 generated stores for `admin import-stores`
//! to read, the same every time (a fixed [`Dice`]), spread over the four account managers'
//! territories, with the demo street, functional terminals with ratings, and about a fifth
//! small grocery stores.

use super::{DEMO_STORES, DEMO_STREET_STORES, Dice, MANAGERS, Territory};
use crate::admin::import::COLUMNS;

const SHOP_NAMES: [&str; 16] = [
    "惠民",
    "金叶",
    "万家",
    "顺发",
    "佳佳",
    "利民",
    "鑫源",
    "好邻居",
    "新华",
    "百姓",
    "福满",
    "永兴",
    "联华",
    "红梅",
    "兴旺",
    "阳光",
];
const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 12] = [
    "建国", "秀英", "伟", "芳", "军", "丽", "强", "敏", "磊", "静", "海燕", "志明",
];

/// The demo store file: [`DEMO_STORES`] rows with the [`COLUMNS`] header, the first
/// [`DEMO_STREET_STORES`] on the demo street (延安路, in `am-li`'s and `am-wang`'s
/// territories), the rest spread evenly over the four account managers.
pub fn demo_csv() -> String {
    let mut dice = Dice(20_261_123);
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut rows: Vec<Vec<String>> = Vec::new();
    for n in 0..DEMO_STORES {
        let on_demo_street = n < DEMO_STREET_STORES;
        let manager = if on_demo_street {
            usize::from(n >= DEMO_STREET_STORES * 2 / 3)
        } else {
            (n % MANAGERS.len() as u32) as usize
        };
        let Territory {
            id: territory,
            streets,
            centre: (lat0, lng0),
            ..
        } = MANAGERS[manager % MANAGERS.len()];
        let format = if on_demo_street {
            dice.weighted(&[("B", 5), ("Y", 4), ("S", 2), ("F", 1)])
        } else {
            dice.weighted(&[
                ("Z", 40),
                ("B", 25),
                ("Y", 12),
                ("S", 8),
                ("F", 7),
                ("Q", 5),
                ("N", 3),
            ])
        };
        let size = if on_demo_street {
            dice.weighted(&[("1", 1), ("2", 2)])
        } else {
            dice.weighted(&[("1", 10), ("2", 35), ("3", 55)])
        };
        let market = if on_demo_street {
            "C"
        } else {
            dice.weighted(&[("C", 3), ("X", 1)])
        };
        let volume = 20 + dice.below(if format == "Z" { 160 } else { 560 });
        let tier = match volume {
            v if v >= 300 => "A",
            v if v >= 120 => "B",
            _ => "C",
        };
        let functional = if on_demo_street {
            n % 3 == 0
        } else {
            dice.below(16) == 0 && format != "Z"
        };
        let rating = if functional {
            dice.weighted(&[
                ("excellent", 2),
                ("good", 4),
                ("qualified", 3),
                ("unqualified", 1),
            ])
        } else {
            ""
        };
        let house = if on_demo_street {
            100 + 2 * u64::from(n)
        } else {
            1 + dice.below(400)
        };
        let (street, lat, lng) = if on_demo_street {
            // One street running east, a store every 25 m or so.
            ("延安路", 30.2585, 120.1625 + f64::from(n) * 0.00026)
        } else {
            let street = dice.pick(&streets);
            let lat = lat0 + (dice.unit() - 0.5) * 0.03;
            let lng = lng0 + (dice.unit() - 0.5) * 0.03;
            (street, lat, lng)
        };
        let suffix = match format {
            "Z" => "食杂店",
            "B" => "便利店",
            "S" => "超市",
            "N" => "商场烟柜",
            "Y" => "烟酒商行",
            "F" => "棋牌休闲",
            _ => "商店",
        };
        let demo_flag = if on_demo_street { "1" } else { "0" };
        rows.push(vec![
            format!("3301021{n:05}"),
            format!("{}{suffix}·{street}{house}号", dice.pick(&SHOP_NAMES)),
            format!("{}{}", dice.pick(&SURNAMES), dice.pick(&GIVEN)),
            format!("13{}{:08}", 5 + dice.below(5), dice.below(100_000_000)),
            format!("杭州市{street}{house}号"),
            format!("{lat:.6}"),
            format!("{lng:.6}"),
            format.into(),
            market.into(),
            size.into(),
            tier.into(),
            volume.to_string(),
            demo_flag.into(),
            if functional { "1" } else { "0" }.into(),
            rating.into(),
            territory.into(),
        ]);
    }
    let mut written = out.write_record(COLUMNS).is_ok();
    for row in &rows {
        written &= out.write_record(row).is_ok();
    }
    let bytes = out.into_inner().unwrap_or_default();
    debug_assert!(written, "writing CSV to memory does not fail");
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_file_is_the_same_every_time_and_has_the_promised_mix() {
        let csv = demo_csv();
        assert_eq!(csv, demo_csv(), "deterministic");
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("csv");
        assert_eq!(rows.len(), DEMO_STORES as usize);
        let col = |name: &str| COLUMNS.iter().position(|c| *c == name).expect("column");
        let count = |f: &dyn Fn(&csv::StringRecord) -> bool| rows.iter().filter(|r| f(r)).count();
        assert_eq!(count(&|r| &r[col("demo_street")] == "1"), 30);
        let z3 = count(&|r| &r[col("format")] == "Z" && &r[col("size")] == "3");
        assert!(
            (150..=300).contains(&z3),
            "about a fifth are small grocery stores: {z3}"
        );
        let rated = count(&|r| !r[col("rating")].is_empty());
        assert!(
            (40..=120).contains(&rated),
            "some functional terminals with ratings: {rated}"
        );
        for Territory { id: manager, .. } in MANAGERS {
            let n = count(&|r| &r[col("territory")] == manager);
            assert!((150..=300).contains(&n), "{manager} serves {n} stores");
        }
    }
}
