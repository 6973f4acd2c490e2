//! What a user does on one day: visits, shares, add-to-carts, purchases and their amounts.
//!
//! Every user-day has its own stream, drawn in a fixed order: visit, then purchase (count and
//! amounts), then the rest. So "did u visit on day d" and "what did u spend on day d" can be
//! recomputed alone and cheaply, which is how the generator finds the last visit before the
//! first day and sums `spend_30d` without keeping history in memory.

use super::population::{DayFactors, Life, Population};
use super::rng::{Purpose, Stream};

/// Event names, in the order their files are written.
pub const EVENTS: &[&str] = &["visit", "share", "add_to_cart", "purchase"];

/// One user's counts on one day (all zero: no events).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayEvents {
    /// Sessions.
    pub visit: u32,
    /// Shares.
    pub share: u32,
    /// Add-to-cart actions.
    pub cart: u32,
    /// Orders paid.
    pub purchase: u32,
    /// Sum of the orders, in fen (cents).
    pub spend_cents: u64,
}

impl DayEvents {
    /// Counts in [`EVENTS`] order.
    pub fn counts(&self) -> [u32; 4] {
        [self.visit, self.share, self.cart, self.purchase]
    }
}

/// Whether the user is registered and not churned on `day`.
pub fn alive(life: &Life, day: i32) -> bool {
    life.join <= day && day < life.churn
}

/// Visit probability on `day` (0 when not alive; 1 on the join day: signing up is a visit).
fn visit_probability(life: &Life, day: i32, f: DayFactors) -> f64 {
    if !alive(life, day) {
        return 0.0;
    }
    let tenure = day - life.join;
    if tenure == 0 {
        return 1.0;
    }
    let mut p = life.p_visit;
    if tenure < 7 && p < 0.75 {
        // New users explore before settling into their habit.
        p += (0.75 - p) * (1.0 - f64::from(tenure) / 7.0);
    }
    let left = life.churn.saturating_sub(day);
    if left <= 21 {
        // Interest fades before a user leaves for good.
        p *= f64::from(left) / 22.0;
    }
    (p * f.visit).min(0.97)
}

/// Geometric count: 1 plus the number of successes in a row with probability `q` (at most `max`).
fn count(s: &mut Stream, q: f64, max: u32) -> u32 {
    let mut n = 1;
    while n < max && s.chance(q) {
        n += 1;
    }
    n
}

/// How much of the day to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Only visit and purchase (with amount): what history scans need.
    VisitAndPurchase,
    /// Everything.
    Full,
}

/// The events of user `i` on `day`.
pub fn day_events(pop: &Population, seed: u64, i: u32, life: &Life, day: i32, detail: Detail) -> DayEvents {
    let f = pop.factors(day);
    let p = visit_probability(life, day, f);
    if p <= 0.0 {
        return DayEvents::default();
    }
    let mut s = Stream::new(seed, Purpose::Day, i, day);
    if !s.chance(p) {
        return DayEvents::default();
    }
    let mut ev = DayEvents { visit: 1, ..DayEvents::default() };
    if s.chance((life.p_buy * f.buy).min(0.9)) {
        ev.purchase = if s.chance(0.12) { 2 } else { 1 };
        for _ in 0..ev.purchase {
            let yuan = life.basket_base * libm::exp(0.45 * life.basket_z + 0.55 * s.normalish());
            ev.spend_cents += ((yuan * 100.0).round() as u64).max(100);
        }
    }
    if detail == Detail::VisitAndPurchase {
        return ev;
    }
    ev.visit = count(&mut s, 0.25 + 0.45 * life.p_visit, 12);
    if s.chance((life.p_share * f.share).min(0.9)) {
        ev.share = count(&mut s, 0.35, 8);
    }
    let carted = s.chance((life.p_cart * f.cart).min(0.9));
    if carted || (ev.purchase > 0 && s.chance(0.85)) {
        ev.cart = count(&mut s, 0.4, 10);
    }
    ev
}
