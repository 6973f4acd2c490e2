//! Who the users are: when they join and churn, how engaged they are, and their profile.
//!
//! User `i` (0-based) is described entirely by streams keyed by `i` (see [`super::rng`]), so
//! nothing per user is stored. Users are numbered in join order: `0..base` joined before the
//! first written day (up to four years before, more of them recently: the app grows),
//! `base..users` join during the written days (more at weekends and on shopping festivals).
//!
//! Correlations built in (the arrows are the order things are drawn in):
//! - age → engagement (teens and 50+ visit less), age → basket, age/gender → interests,
//!   channel, device brand;
//! - city tier → basket and Apple share (tier 1 cities carry more iPhones and bigger baskets);
//! - engagement → churn (engaged users rarely churn), → purchase, cart and share rates;
//! - purchase rate × engagement × tenure → member level; sharing → referral channel.

use super::geo::{self, PROVINCES};
use super::rng::{Purpose, Stream, Table};
use crate::ds::Ds;

/// Days of history simulated before the first written day, so that `active_180d` on the first
/// day already reflects half a year of visits.
pub const HISTORY_DAYS: i32 = 180;

/// How far back the oldest pre-existing user joined, in days before the first written day.
const OLDEST_JOIN_DAYS: f64 = 1460.0;

/// New users per day as a share of the users existing before the first day (weekday weight 1).
const DAILY_GROWTH: f64 = 0.0035;

/// Gender, or unknown (no row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    /// `female`
    Female,
    /// `male`
    Male,
}

impl Gender {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
        }
    }
}

/// Age bands with their share of users and age range (inclusive).
pub const AGE_BANDS: &[(&str, f64, u32, u32)] = &[
    ("under_18", 3.0, 14, 17),
    ("18-24", 19.0, 18, 24),
    ("25-29", 21.0, 25, 29),
    ("30-34", 19.0, 30, 34),
    ("35-39", 14.0, 35, 39),
    ("40-49", 15.0, 40, 49),
    ("50-59", 6.0, 50, 59),
    ("60+", 3.0, 60, 75),
];

/// The band an age falls in.
///
/// ```
/// use server::demo::population::age_band;
/// assert_eq!(age_band(24), "18-24");
/// assert_eq!(age_band(80), "60+");
/// ```
pub fn age_band(age: u32) -> &'static str {
    AGE_BANDS.iter().find(|b| age <= b.3).map_or("60+", |b| b.0)
}

/// Device brands.
pub const BRANDS: &[&str] = &["Apple", "Huawei", "Xiaomi", "OPPO", "vivo", "Honor", "Samsung", "OnePlus", "realme"];

/// Acquisition channels with their base weights.
pub const CHANNELS: &[(&str, f64)] = &[
    ("organic", 22.0),
    ("wechat", 18.0),
    ("douyin", 17.0),
    ("xiaohongshu", 9.0),
    ("app_store", 12.0),
    ("referral", 10.0),
    ("baidu_sem", 6.0),
    ("offline", 6.0),
];

/// Member levels, lowest first.
pub const MEMBER_LEVELS: &[&str] = &["regular", "silver", "gold", "platinum", "diamond"];

/// Interests: name, base probability, then multipliers for female, male, under 30, 40 and over.
pub const INTERESTS: &[(&str, f64, f64, f64, f64, f64)] = &[
    ("beauty", 0.12, 2.6, 0.25, 1.3, 0.7),
    ("fashion", 0.18, 1.6, 0.5, 1.4, 0.6),
    ("mother_baby", 0.07, 2.0, 0.4, 0.8, 0.5),
    ("digital", 0.20, 0.6, 1.5, 1.3, 0.8),
    ("gaming", 0.11, 0.5, 1.7, 1.8, 0.3),
    ("sports", 0.12, 0.7, 1.4, 1.2, 0.8),
    ("travel", 0.10, 1.1, 0.9, 1.0, 1.2),
    ("food", 0.25, 1.1, 0.9, 1.1, 1.0),
    ("home", 0.14, 1.2, 0.8, 0.6, 1.5),
    ("pets", 0.07, 1.2, 0.8, 1.4, 0.8),
    ("books", 0.08, 1.1, 0.9, 1.1, 1.0),
    ("auto", 0.05, 0.5, 2.0, 0.6, 1.5),
    ("finance", 0.05, 0.8, 1.3, 0.7, 1.5),
    ("outdoors", 0.06, 0.8, 1.3, 1.0, 1.1),
];

/// Drawn first, from the profile stream: what the lifecycle depends on.
#[derive(Debug, Clone)]
pub struct Core {
    /// `None`: the user never told (no `gender` row).
    pub gender: Option<Gender>,
    /// Age on the first written day (always drawn; used for correlations).
    pub age: u32,
    /// Birth date when known (no `age`/`age_band` rows otherwise).
    pub birth: Option<Ds>,
    /// Index into [`PROVINCES`].
    pub province: usize,
    /// Index into that province's cities.
    pub city: usize,
    /// City tier 1..=3.
    pub tier: u8,
}

/// Lifecycle and propensities, from the life stream.
#[derive(Debug, Clone)]
pub struct Life {
    /// Join day, relative to the first written day (negative: before it).
    pub join: i32,
    /// First day without activity (relative); `i32::MAX` when the user does not churn.
    pub churn: i32,
    /// Probability of a visit on an ordinary day.
    pub p_visit: f64,
    /// Probability of a purchase on a day with a visit.
    pub p_buy: f64,
    /// Probability of an add-to-cart on a day with a visit.
    pub p_cart: f64,
    /// Probability of a share on a day with a visit.
    pub p_share: f64,
    /// Typical order value before the user's own spread, yuan (by tier and age).
    pub basket_base: f64,
    /// The user's spread: log typical order value is `ln(basket_base) + 0.45 * basket_z`.
    pub basket_z: f64,
    /// Rank-like draws in `[0, 1)` kept for later correlations.
    pub rank_visit: f64,
    /// See `rank_visit`.
    pub rank_buy: f64,
    /// See `rank_visit`.
    pub rank_share: f64,
}

impl Life {
    /// Typical order value, yuan.
    pub fn basket_yuan(&self) -> f64 {
        self.basket_base * libm::exp(0.45 * self.basket_z)
    }
}

/// Slow-changing attributes drawn only on the days demographic files are written.
#[derive(Debug, Clone)]
pub struct Extra {
    /// Index into [`BRANDS`].
    pub brand: usize,
    /// `iOS`, `Android` or `HarmonyOS`.
    pub os: &'static str,
    /// Index into [`CHANNELS`].
    pub channel: usize,
    /// Level score in `[0, 3)`, before the tenure cap.
    pub level_score: f64,
    /// Bit `k` set: has interest `INTERESTS[k]`.
    pub interests: u16,
}

/// How one calendar day shifts behaviour (weekends, shopping festivals).
#[derive(Debug, Clone, Copy)]
pub struct DayFactors {
    /// Multiplies visit probability.
    pub visit: f64,
    /// Multiplies add-to-cart probability.
    pub cart: f64,
    /// Multiplies purchase probability.
    pub buy: f64,
    /// Multiplies share probability.
    pub share: f64,
    /// Relative number of new users that day.
    pub join: f64,
}

impl DayFactors {
    /// Factors for a calendar day.
    pub fn for_day(ds: Ds) -> Self {
        let mut f = Self { visit: 1.0, cart: 1.0, buy: 1.0, share: 1.0, join: 1.0 };
        if ds.weekday() >= 5 {
            f.visit = 1.12;
            f.buy = 1.18;
            f.share = 1.1;
            f.join = 1.25;
        }
        let (_, m, d) = ds.ymd();
        match (m, d) {
            // Double 11 (Singles' Day): presales from Nov 1, the peak on the 11th, a lull after.
            (11, 1..=10) => {
                f.visit *= 1.1;
                f.cart *= 1.8;
                f.buy *= 0.85;
                f.join *= 1.3;
            }
            (11, 11) => {
                f.visit *= 1.5;
                f.cart *= 2.0;
                f.buy *= 4.0;
                f.share *= 1.6;
                f.join *= 2.5;
            }
            (11, 12) => f.buy *= 0.7,
            // 618 and Double 12.
            (6, 1..=17) => f.cart *= 1.4,
            (6, 18) | (12, 12) => {
                f.visit *= 1.3;
                f.buy *= 2.5;
                f.join *= 1.8;
            }
            // Golden week: people travel.
            (10, 1..=7) => f.visit *= 0.9,
            _ => {}
        }
        f
    }
}

/// The population: who exists when, and how to draw anyone's attributes.
#[derive(Debug)]
pub struct Population {
    seed: u64,
    /// The first written day.
    pub start: Ds,
    /// Number of written days.
    pub days: i32,
    /// Total user ids over the whole period.
    pub users: u32,
    /// Users joined before the first written day.
    pub base: u32,
    /// `joined_by[d]`: users joined by the end of written day `d`.
    joined_by: Vec<u32>,
    /// Factors for days `-HISTORY_DAYS..days`.
    factors: Vec<DayFactors>,
    age_table: Table,
    province_table: Table,
    city_tables: Vec<Table>,
}

impl Population {
    /// The population for these settings.
    pub fn new(seed: u64, users: u32, start: Ds, days: u32) -> Self {
        let days = i32::try_from(days).unwrap_or(i32::MAX);
        let factors: Vec<DayFactors> = (-HISTORY_DAYS..days).map(|d| DayFactors::for_day(start.add_days(d))).collect();
        let written = &factors[usize::try_from(HISTORY_DAYS).unwrap_or(0)..];
        let total_weight: f64 = written.iter().map(|f| f.join).sum();
        let base_f = f64::from(users) / (1.0 + DAILY_GROWTH * total_weight);
        let base = (base_f.round() as u32).clamp(users.min(1), users);
        let new_users = f64::from(users - base);
        let mut acc = 0.0;
        let joined_by = written
            .iter()
            .map(|f| {
                acc += f.join;
                base + (new_users * acc / total_weight).round() as u32
            })
            .collect();
        Self {
            seed,
            start,
            days,
            users,
            base,
            joined_by,
            factors,
            age_table: Table::new(AGE_BANDS.iter().map(|b| b.1)),
            province_table: Table::new(PROVINCES.iter().map(|p| p.weight)),
            city_tables: PROVINCES.iter().map(|p| Table::new((0..p.cities.len()).map(geo::city_weight))).collect(),
        }
    }

    /// Users that exist (have joined) by the end of written day `day`.
    pub fn joined_by(&self, day: i32) -> u32 {
        if day < 0 {
            return self.base;
        }
        let i = usize::try_from(day).unwrap_or(0);
        self.joined_by.get(i).or(self.joined_by.last()).copied().unwrap_or(self.base)
    }

    /// Factors for day `day` (relative, `-HISTORY_DAYS..days`).
    pub fn factors(&self, day: i32) -> DayFactors {
        let i = usize::try_from(day + HISTORY_DAYS).unwrap_or(0);
        self.factors.get(i).copied().unwrap_or_else(|| DayFactors::for_day(self.start.add_days(day)))
    }

    /// The day user `i` joined, relative to the first written day.
    pub fn join_day(&self, i: u32) -> i32 {
        if i < self.base {
            // x in (0, 1): the share of the base that joined before this user. Joins thicken
            // towards the present: half of the base joined in the last quarter of the span.
            let x = (f64::from(i) + 0.5) / f64::from(self.base);
            let before = OLDEST_JOIN_DAYS * (1.0 - x) * (1.0 - x);
            -1 - before.floor() as i32
        } else {
            let d = self.joined_by.partition_point(|&n| n <= i);
            i32::try_from(d).unwrap_or(i32::MAX)
        }
    }

    /// The profile stream of user `i` and the core attributes drawn from it first.
    pub fn core(&self, i: u32) -> (Core, Stream) {
        let mut s = Stream::new(self.seed, Purpose::Profile, i, 0);
        let g = s.unit();
        let gender = if g < 0.04 {
            None
        } else if g < 0.56 {
            Some(Gender::Female)
        } else {
            Some(Gender::Male)
        };
        let band = &AGE_BANDS[self.age_table.draw(&mut s)];
        let age = s.between(band.2, band.3);
        let day_in_year = i32::try_from(s.below(365)).unwrap_or(0);
        let age_days = i32::try_from(age).unwrap_or(0) * 365 + age as i32 / 4 + day_in_year;
        let birth = s.chance(0.9).then(|| self.start.add_days(-age_days));
        let province = self.province_table.draw(&mut s);
        let city = self.city_tables[province].draw(&mut s);
        let tier = PROVINCES[province].cities[city].tier;
        let core = Core { gender, age, birth, province, city, tier };
        (core, s)
    }

    /// Lifecycle and propensities of user `i`.
    pub fn life(&self, i: u32, core: &Core) -> Life {
        let mut s = Stream::new(self.seed, Purpose::Life, i, 0);
        let join = self.join_day(i);
        let rank_visit = s.unit();
        let mut p_visit = if rank_visit < 0.5 {
            0.015 + 0.16 * (rank_visit / 0.5)
        } else if rank_visit < 0.85 {
            0.18 + 0.37 * ((rank_visit - 0.5) / 0.35)
        } else {
            0.55 + 0.4 * ((rank_visit - 0.85) / 0.15)
        };
        if core.age < 18 || core.age >= 50 {
            p_visit *= 0.8;
        }
        // Tourists try the app and leave within weeks; engaged users rarely do.
        let tourist = 0.45 - 0.3 * rank_visit;
        let kind = s.unit();
        let lifetime = if kind < tourist {
            Some(s.exponential(12.0))
        } else if kind < tourist + 0.4 {
            Some(s.exponential(320.0))
        } else {
            None
        };
        let churn = lifetime.map_or(i32::MAX, |l| join.saturating_add(1 + l as i32));
        let rank_buy = s.unit();
        let mut p_buy = (0.008 + 0.09 * rank_buy * rank_buy) * (0.6 + 0.8 * rank_visit);
        if core.gender == Some(Gender::Female) {
            p_buy *= 1.1;
        }
        let rank_share = s.unit();
        let mut p_share = 0.02 + 0.15 * rank_share * rank_share * rank_share;
        if core.age < 30 {
            p_share *= 1.3;
        }
        let p_cart = 0.05 + 0.18 * s.unit() + 2.0 * p_buy;
        let tier_base = match core.tier {
            1 => 190.0,
            2 => 140.0,
            _ => 95.0,
        };
        let age_factor = match core.age {
            0..=24 => 0.75,
            25..=29 => 1.0,
            30..=49 => 1.2,
            _ => 0.95,
        };
        let basket_base = tier_base * age_factor;
        let basket_z = s.normalish();
        Life { join, churn, p_visit, p_buy, p_cart, p_share, basket_base, basket_z, rank_visit, rank_buy, rank_share }
    }

    /// The slow-changing attributes, drawn from the profile stream after [`Self::core`].
    pub fn extra(&self, s: &mut Stream, core: &Core, life: &Life) -> Extra {
        let young = core.age < 30;
        let old = core.age >= 40;
        // Device: Apple share by tier, age and basket; the Android brands by age.
        let mut apple: f64 = match core.tier {
            1 => 0.38,
            2 => 0.27,
            _ => 0.16,
        };
        if young {
            apple += 0.08;
        }
        if core.age >= 50 {
            apple -= 0.1;
        }
        if life.basket_yuan() > 200.0 {
            apple += 0.1;
        }
        let brand = if s.chance(apple) {
            0
        } else {
            let mut w = [0.0, 30.0, 20.0, 17.0, 17.0, 9.0, 2.0, 2.0, 3.0];
            if old {
                w[1] *= 1.4;
                w[3] *= 1.2;
                w[4] *= 1.2;
            }
            if young {
                w[2] *= 1.3;
                w[7] *= 1.5;
                w[8] *= 1.5;
            }
            s.pick(&w)
        };
        let os = match brand {
            0 => "iOS",
            1 if s.chance(0.75) => "HarmonyOS",
            _ => "Android",
        };
        // Channel.
        let mut w: Vec<f64> = CHANNELS.iter().map(|c| c.1).collect();
        if young {
            w[1] *= 0.8;
            w[2] *= 1.5;
            w[3] *= 1.6;
            w[7] *= 0.5;
        }
        if old {
            w[1] *= 1.6;
            w[2] *= 0.8;
            w[3] *= 0.4;
            w[6] *= 1.4;
            w[7] *= 1.8;
        }
        match core.gender {
            Some(Gender::Female) => w[3] *= 1.8,
            Some(Gender::Male) => w[3] *= 0.3,
            None => {}
        }
        if life.rank_share > 0.8 {
            w[5] *= 2.5;
        }
        if core.tier == 3 {
            w[7] *= 1.5;
            w[4] *= 0.8;
        }
        let channel = s.pick(&w);
        let level_score = life.rank_buy + life.rank_visit + s.unit();
        let mut interests = 0u16;
        for (k, it) in INTERESTS.iter().enumerate() {
            let mut p = it.1;
            match core.gender {
                Some(Gender::Female) => p *= it.2,
                Some(Gender::Male) => p *= it.3,
                None => {}
            }
            if young {
                p *= it.4;
            }
            if old {
                p *= it.5;
            }
            if it.0 == "mother_baby" && (25..40).contains(&core.age) {
                p *= 2.2;
            }
            if it.0 == "travel" && core.tier == 1 {
                p *= 1.4;
            }
            if s.chance(p.min(0.9)) {
                interests |= 1 << k;
            }
        }
        Extra { brand, os, channel, level_score, interests }
    }
}

/// Member level on a day: by score, capped by tenure (new members cannot be diamond yet).
pub fn member_level(level_score: f64, tenure_days: i32) -> &'static str {
    // Thresholds on the sum of three uniforms: about 66% / 22% / 8.6% / 2.1% / 1.5%.
    let by_score = if level_score > 2.55 {
        4
    } else if level_score > 2.4 {
        3
    } else if level_score > 2.1 {
        2
    } else if level_score > 1.8 {
        1
    } else {
        0
    };
    let cap = match tenure_days {
        ..30 => 1,
        30..90 => 2,
        90..365 => 3,
        _ => 4,
    };
    MEMBER_LEVELS[by_score.min(cap)]
}

/// Whole years between `birth` and `ds`.
pub fn age_on(birth: Ds, ds: Ds) -> u32 {
    let (by, bm, bd) = birth.ymd();
    let (y, m, d) = ds.ymd();
    let years = y - by - i32::from((m, d) < (bm, bd));
    years.max(0).unsigned_abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop(users: u32, days: u32) -> Population {
        let end: Ds = "2026-11-20".parse().expect("valid date");
        Population::new(7, users, end.add_days(1 - days as i32), days)
    }

    #[test]
    fn joins_are_ordered_and_complete() {
        let p = pop(10_000, 30);
        assert!(p.base > 8_000 && p.base < 10_000, "base {}", p.base);
        assert_eq!(p.joined_by(29), 10_000);
        let joins: Vec<i32> = (0..10_000).map(|i| p.join_day(i)).collect();
        assert!(joins.windows(2).all(|w| w[0] <= w[1]));
        assert!(joins[0] <= -1400);
        assert!(joins[p.base as usize - 1] < 0);
        assert!(joins[p.base as usize] >= 0);
        for d in 0..30 {
            let n = p.joined_by(d);
            assert!(joins[..n as usize].iter().all(|&j| j <= d));
            assert!(joins[n as usize..].iter().all(|&j| j > d));
        }
    }

    #[test]
    fn tiny_populations_work() {
        for users in [1, 2, 3, 17] {
            let p = pop(users, 8);
            assert_eq!(p.joined_by(7), users);
            assert!(p.base >= 1);
        }
    }

    #[test]
    fn levels_and_ages() {
        assert_eq!(member_level(2.9, 1000), "diamond");
        assert_eq!(member_level(2.9, 10), "silver");
        assert_eq!(member_level(0.5, 1000), "regular");
        let b: Ds = "2000-11-21".parse().expect("valid date");
        let d: Ds = "2026-11-20".parse().expect("valid date");
        assert_eq!(age_on(b, d), 25);
        assert_eq!(age_on(b, d.add_days(1)), 26);
    }
}
