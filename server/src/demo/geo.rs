//! Provinces and their cities (pinyin), with weights for drawing where a user lives.
//!
//! Province weights are roughly population (millions, 2020 census) times how much a region
//! over-indexes on app usage; city weights inside a province fall off Zipf-like by rank
//! (`1 / rank^1.1`), with the order below being the rough order of size. Cities are city tiers'
//! usual members: tier 1 (Beijing, Shanghai, Guangzhou, Shenzhen), "new tier 1" as tier 2, the
//! rest tier 3. Tier drives device mix and basket size.

/// A province-level region.
#[derive(Debug)]
pub struct Province {
    /// Pinyin name, e.g. `Guangdong`.
    pub name: &'static str,
    /// Relative weight (population × online factor).
    pub weight: f64,
    /// Its cities, largest first.
    pub cities: &'static [City],
}

/// A prefecture-level city.
#[derive(Debug)]
pub struct City {
    /// Pinyin name, e.g. `Shenzhen`.
    pub name: &'static str,
    /// 1, 2 or 3: tier 1, new tier 1, others.
    pub tier: u8,
}

const fn c(name: &'static str, tier: u8) -> City {
    City { name, tier }
}

/// Every province with its cities. A city name appears in one province only.
pub static PROVINCES: &[Province] = &[
    Province {
        name: "Guangdong",
        weight: 126.0 * 1.5,
        cities: &[
            c("Guangzhou", 1),
            c("Shenzhen", 1),
            c("Dongguan", 2),
            c("Foshan", 2),
            c("Huizhou", 3),
            c("Zhuhai", 3),
            c("Shantou", 3),
            c("Zhongshan", 3),
            c("Jiangmen", 3),
            c("Zhanjiang", 3),
        ],
    },
    Province {
        name: "Shandong",
        weight: 101.0,
        cities: &[
            c("Qingdao", 2),
            c("Jinan", 3),
            c("Yantai", 3),
            c("Weifang", 3),
            c("Linyi", 3),
            c("Zibo", 3),
            c("Jining", 3),
        ],
    },
    Province {
        name: "Henan",
        weight: 99.0 * 0.85,
        cities: &[
            c("Zhengzhou", 2),
            c("Luoyang", 3),
            c("Nanyang", 3),
            c("Xinxiang", 3),
            c("Kaifeng", 3),
            c("Zhoukou", 3),
        ],
    },
    Province {
        name: "Jiangsu",
        weight: 85.0 * 1.4,
        cities: &[
            c("Suzhou", 2),
            c("Nanjing", 2),
            c("Wuxi", 3),
            c("Changzhou", 3),
            c("Nantong", 3),
            c("Xuzhou", 3),
            c("Yangzhou", 3),
        ],
    },
    Province {
        name: "Sichuan",
        weight: 84.0,
        cities: &[c("Chengdu", 2), c("Mianyang", 3), c("Yibin", 3), c("Nanchong", 3), c("Deyang", 3), c("Leshan", 3)],
    },
    Province {
        name: "Hebei",
        weight: 75.0 * 0.85,
        cities: &[c("Shijiazhuang", 3), c("Tangshan", 3), c("Baoding", 3), c("Handan", 3), c("Langfang", 3)],
    },
    Province {
        name: "Hunan",
        weight: 66.0,
        cities: &[c("Changsha", 2), c("Zhuzhou", 3), c("Hengyang", 3), c("Yueyang", 3), c("Changde", 3)],
    },
    Province {
        name: "Zhejiang",
        weight: 65.0 * 1.5,
        cities: &[
            c("Hangzhou", 2),
            c("Ningbo", 2),
            c("Wenzhou", 3),
            c("Jinhua", 3),
            c("Shaoxing", 3),
            c("Jiaxing", 3),
            c("Taizhou", 3),
        ],
    },
    Province {
        name: "Anhui",
        weight: 61.0 * 0.9,
        cities: &[c("Hefei", 2), c("Wuhu", 3), c("Fuyang", 3), c("Bengbu", 3), c("Anqing", 3)],
    },
    Province {
        name: "Hubei",
        weight: 58.0,
        cities: &[c("Wuhan", 2), c("Yichang", 3), c("Xiangyang", 3), c("Jingzhou", 3), c("Huangshi", 3)],
    },
    Province {
        name: "Guangxi",
        weight: 50.0 * 0.8,
        cities: &[c("Nanning", 3), c("Liuzhou", 3), c("Guilin", 3), c("Wuzhou", 3)],
    },
    Province {
        name: "Yunnan",
        weight: 47.0 * 0.75,
        cities: &[c("Kunming", 2), c("Qujing", 3), c("Dali", 3), c("Yuxi", 3)],
    },
    Province {
        name: "Jiangxi",
        weight: 45.0 * 0.85,
        cities: &[c("Nanchang", 3), c("Ganzhou", 3), c("Jiujiang", 3), c("Shangrao", 3)],
    },
    Province {
        name: "Liaoning",
        weight: 43.0,
        cities: &[c("Shenyang", 2), c("Dalian", 3), c("Anshan", 3), c("Jinzhou", 3)],
    },
    Province {
        name: "Fujian",
        weight: 41.0 * 1.2,
        cities: &[c("Xiamen", 3), c("Fuzhou", 3), c("Quanzhou", 3), c("Zhangzhou", 3), c("Putian", 3)],
    },
    Province {
        name: "Shaanxi",
        weight: 40.0 * 0.9,
        cities: &[c("Xi'an", 2), c("Baoji", 3), c("Xianyang", 3), c("Weinan", 3)],
    },
    Province {
        name: "Guizhou",
        weight: 38.0 * 0.7,
        cities: &[c("Guiyang", 3), c("Zunyi", 3), c("Liupanshui", 3), c("Anshun", 3)],
    },
    Province {
        name: "Shanxi",
        weight: 35.0 * 0.8,
        cities: &[c("Taiyuan", 3), c("Datong", 3), c("Changzhi", 3), c("Yuncheng", 3)],
    },
    Province { name: "Chongqing", weight: 32.0, cities: &[c("Chongqing", 2)] },
    Province {
        name: "Heilongjiang",
        weight: 31.0 * 0.8,
        cities: &[c("Harbin", 3), c("Daqing", 3), c("Qiqihar", 3), c("Mudanjiang", 3)],
    },
    Province { name: "Xinjiang", weight: 26.0 * 0.6, cities: &[c("Urumqi", 3), c("Kashgar", 3), c("Korla", 3)] },
    Province { name: "Gansu", weight: 25.0 * 0.6, cities: &[c("Lanzhou", 3), c("Tianshui", 3), c("Baiyin", 3)] },
    Province { name: "Shanghai", weight: 25.0 * 2.5, cities: &[c("Shanghai", 1)] },
    Province {
        name: "Inner Mongolia",
        weight: 24.0 * 0.7,
        cities: &[c("Hohhot", 3), c("Baotou", 3), c("Ordos", 3), c("Chifeng", 3)],
    },
    Province { name: "Jilin", weight: 24.0 * 0.75, cities: &[c("Changchun", 3), c("Jilin", 3), c("Siping", 3)] },
    Province { name: "Beijing", weight: 22.0 * 2.5, cities: &[c("Beijing", 1)] },
    Province { name: "Tianjin", weight: 14.0 * 1.3, cities: &[c("Tianjin", 2)] },
    Province { name: "Hainan", weight: 10.0, cities: &[c("Haikou", 3), c("Sanya", 3)] },
    Province { name: "Ningxia", weight: 7.2 * 0.7, cities: &[c("Yinchuan", 3), c("Shizuishan", 3)] },
    Province { name: "Qinghai", weight: 5.9 * 0.6, cities: &[c("Xining", 3), c("Haidong", 3)] },
    Province { name: "Tibet", weight: 3.6 * 0.5, cities: &[c("Lhasa", 3), c("Shigatse", 3)] },
];

/// The province a city belongs to, if it is one of ours.
///
/// ```
/// use server::demo::geo::province_of;
/// assert_eq!(province_of("Shenzhen"), Some("Guangdong"));
/// assert_eq!(province_of("Atlantis"), None);
/// ```
pub fn province_of(city: &str) -> Option<&'static str> {
    PROVINCES.iter().find(|p| p.cities.iter().any(|c| c.name == city)).map(|p| p.name)
}

/// Weight of the city at `rank` (0-based) inside its province.
pub fn city_weight(rank: usize) -> f64 {
    let r = rank as f64 + 1.0;
    1.0 / (r * libm::pow(r, 0.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_csv_safe() {
        let mut seen = HashSet::new();
        for p in PROVINCES {
            assert!(!p.cities.is_empty());
            assert!(p.weight > 0.0);
            for c in p.cities {
                assert!(seen.insert(c.name), "{} appears twice", c.name);
                assert!((1..=3).contains(&c.tier));
                assert!(!c.name.contains([',', '"', '\n']));
            }
        }
        let provinces: HashSet<_> = PROVINCES.iter().map(|p| p.name).collect();
        assert_eq!(provinces.len(), PROVINCES.len());
    }

    #[test]
    fn cities_fall_off_by_rank() {
        assert!(city_weight(0) > city_weight(1));
        assert!(city_weight(1) > city_weight(9));
    }
}
