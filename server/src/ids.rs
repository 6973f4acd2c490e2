//! An app's user ids: how the external ids of files, paths and exports map to the `u32` ids
//! its bitmaps hold. Fixed when the app is created ([`IdKind`]):
//!
//! - `strings`: any text; a dictionary numbers users densely in order of arrival (`0..n`),
//!   kept in the metadata store and, for uploads, in memory ([`AppDict`]).
//! - `u32`: the warehouse's own unsigned 32-bit ids are the ids; their external form is the
//!   decimal text. No dictionary exists: the app keeps only the bitmap of the users published
//!   so far (its universe), a few bytes per user instead of a map entry of dozens.
//!
//! Everything that turns text into ids or back goes through here, so that each feature works
//! the same for both kinds.

use std::collections::HashMap;
use std::sync::Arc;

use engine::IdSet;
use engine::sample::Scheme;
use roaring::RoaringBitmap;
use wire::IdKind;

use crate::snapshots::{SnapshotError, Snapshots};
use crate::store::{Meta, StoreError};

/// Hash maps keyed by uploaded text: foldhash is several times faster than the default SipHash
/// on short ids (it showed in ingest profiles), and is seeded per process, so crafted ids
/// cannot force collisions.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The sample scheme of an app's kind of ids (see [`engine::sample`]): dictionary ids only
/// grow, so ranks are stable; warehouse ids arrive in any order, so blocks are used.
pub fn sample_scheme(kind: IdKind) -> Scheme {
    match kind {
        IdKind::Strings => Scheme::Rank,
        IdKind::U32 => Scheme::Block,
    }
}

/// Reads a `u32` app's external id: decimal digits, `0` to `4294967295`, no sign, spaces or
/// leading zeros (so that every id has one spelling, and an export reads back the same).
///
/// ```
/// use server::ids::parse_u32;
/// assert_eq!(parse_u32("4294967295"), Ok(u32::MAX));
/// assert!(parse_u32("007").is_err());
/// assert!(parse_u32("4294967296").is_err());
/// ```
pub fn parse_u32(text: &str) -> Result<u32, String> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let canonical = text == "0" || !text.starts_with('0');
    match text.parse::<u32>() {
        Ok(id) if digits && canonical => Ok(id),
        _ => Err(format!(
            "`{}` is not a u32 user id (decimal 0 to 4294967295, no sign or leading zeros)",
            text.chars().take(40).collect::<String>()
        )),
    }
}

/// An app's dictionary in memory: external id → dense id. Loaded on the first upload.
#[derive(Debug, Default)]
pub struct AppDict {
    ids: FastMap<String, u32>,
}

impl AppDict {
    /// A dictionary from ids in dense order.
    pub fn from_ids(ids: Vec<String>) -> AppDict {
        let mut map = FastMap::with_capacity_and_hasher(ids.len(), Default::default());
        map.extend(ids.into_iter().enumerate().map(|(i, s)| (s, i as u32)));
        AppDict { ids: map }
    }

    /// Users known.
    pub fn len(&self) -> u32 {
        self.ids.len() as u32
    }

    /// True before the first user.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds ids committed by a publish (dense ids `len..len + new.len()`).
    pub fn commit(&mut self, new_ids: Vec<String>) {
        let base = self.len();
        for (i, s) in new_ids.into_iter().enumerate() {
            self.ids.insert(s, base + i as u32);
        }
    }

    /// The dense id of an external id.
    pub fn get(&self, external: &str) -> Option<u32> {
        self.ids.get(external).copied()
    }
}

/// The users of an app as uploads see them: its dictionary, or its universe of `u32` ids.
/// Held under the app's publish lock, loaded on the first upload.
#[derive(Debug)]
pub enum AppIds {
    /// String ids and their dense numbers.
    Strings(AppDict),
    /// Every `u32` id published so far.
    U32(IdSet),
}

impl AppIds {
    /// An empty set of users of `kind` (a new app's).
    pub fn empty(kind: IdKind) -> AppIds {
        match kind {
            IdKind::Strings => AppIds::Strings(AppDict::default()),
            IdKind::U32 => AppIds::U32(IdSet::new()),
        }
    }

    /// Reads an app's users from the store.
    ///
    /// # Errors
    /// [`IdsError::NoApp`], or a store failure.
    pub fn load(snaps: &Snapshots, app: &str) -> Result<AppIds, IdsError> {
        let record = snaps.meta().app(app)?.ok_or_else(|| IdsError::NoApp(app.to_owned()))?;
        Ok(match (record.ids, record.universe) {
            (IdKind::Strings, _) => AppIds::Strings(AppDict::from_ids(snaps.meta().dict_load(app)?)),
            (IdKind::U32, None) => AppIds::U32(IdSet::new()),
            (IdKind::U32, Some(blob)) => AppIds::U32((*snaps.set(&blob)?).clone()),
        })
    }

    /// Brings a copy held in memory up to the store, after another process (a replica) may
    /// have published: a dictionary takes the entries added after its last one (it only
    /// grows), a universe is read again (its blob is cached by address, so an unchanged one
    /// costs no read).
    ///
    /// # Errors
    /// [`IdsError::NoApp`], or a store failure.
    pub fn catch_up(&mut self, snaps: &Snapshots, app: &str) -> Result<(), IdsError> {
        match self {
            AppIds::Strings(dict) => {
                let added = snaps.meta().dict_load_from(app, dict.len())?;
                if !added.is_empty() {
                    dict.commit(added);
                }
            }
            AppIds::U32(_) => *self = AppIds::load(snaps, app)?,
        }
        Ok(())
    }

    /// The kind of ids.
    pub fn kind(&self) -> IdKind {
        match self {
            AppIds::Strings(_) => IdKind::Strings,
            AppIds::U32(_) => IdKind::U32,
        }
    }

    /// Users known before this upload.
    pub fn len(&self) -> u64 {
        match self {
            AppIds::Strings(dict) => u64::from(dict.len()),
            AppIds::U32(universe) => universe.len(),
        }
    }

    /// True before the first user.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The universe once `new` users are added.
    pub fn universe_with(&self, new: &NewUsers) -> IdSet {
        match (self, new) {
            (AppIds::Strings(dict), NewUsers::Strings { ids, .. }) => IdSet::full_range(dict.len() + ids.len() as u32),
            (AppIds::U32(universe), NewUsers::U32(ids)) => universe.or(ids),
            // A staging of the other kind cannot happen (one app, one kind); stay correct anyway.
            (AppIds::Strings(dict), NewUsers::U32(_)) => IdSet::full_range(dict.len()),
            (AppIds::U32(universe), NewUsers::Strings { .. }) => universe.clone(),
        }
    }

    /// Adds the users a publish committed.
    pub fn commit(&mut self, new: NewUsers, universe: IdSet) {
        match (self, new) {
            (AppIds::Strings(dict), NewUsers::Strings { ids, .. }) => dict.commit(ids),
            (AppIds::U32(known), _) => *known = universe,
            (AppIds::Strings(_), NewUsers::U32(_)) => {}
        }
    }

    /// A resolver for the rows of one upload: known users get their id, new ones a tentative
    /// one (committed only by a publish).
    pub fn resolver(&self) -> Resolver<'_> {
        let first = match self {
            AppIds::Strings(dict) => dict.len(),
            AppIds::U32(_) => 0,
        };
        Resolver {
            ids: self,
            first,
            new_strings: FastMap::default(),
            new_ids: Vec::new(),
            new_u32: RoaringBitmap::new(),
        }
    }
}

/// Users an upload names for the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewUsers {
    /// New string ids, in the order of their dense ids `first..`.
    Strings {
        /// The dense id of the first (the dictionary's length before).
        first: u32,
        /// The external ids.
        ids: Vec<String>,
    },
    /// New `u32` ids.
    U32(IdSet),
}

impl NewUsers {
    /// How many.
    pub fn len(&self) -> usize {
        match self {
            NewUsers::Strings { ids, .. } => ids.len(),
            NewUsers::U32(ids) => usize::try_from(ids.len()).unwrap_or(usize::MAX),
        }
    }

    /// True when the upload names no new user.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Maps the external ids of one upload's rows to ids.
#[derive(Debug)]
pub struct Resolver<'a> {
    ids: &'a AppIds,
    /// Strings: the dense id of the first new user.
    first: u32,
    new_strings: FastMap<String, u32>,
    new_ids: Vec<String>,
    /// `u32`: new users as a bitmap, so a file of many rows per user stays small.
    new_u32: RoaringBitmap,
}

impl Resolver<'_> {
    /// The id of an external id.
    ///
    /// # Errors
    /// A `u32` app's id that is not a canonical decimal `u32`, or a dictionary that is full.
    pub fn resolve(&mut self, user: &str) -> Result<u32, String> {
        match self.ids {
            AppIds::Strings(dict) => {
                if let Some(id) = dict.get(user).or_else(|| self.new_strings.get(user).copied()) {
                    return Ok(id);
                }
                // The last id stays free: `0..len` must fit a u32 length.
                let id = self
                    .first
                    .checked_add(self.new_ids.len() as u32)
                    .filter(|&id| id < u32::MAX)
                    .ok_or_else(|| "the app has no room for more users (2^32 - 1)".to_owned())?;
                self.new_strings.insert(user.to_owned(), id);
                self.new_ids.push(user.to_owned());
                Ok(id)
            }
            AppIds::U32(universe) => {
                let id = parse_u32(user)?;
                if !universe.contains(id) {
                    self.new_u32.insert(id);
                }
                Ok(id)
            }
        }
    }

    /// The users named for the first time.
    pub fn into_new(self) -> NewUsers {
        match self.ids {
            AppIds::Strings(_) => NewUsers::Strings { first: self.first, ids: self.new_ids },
            AppIds::U32(_) => NewUsers::U32(IdSet::from_sorted_iter(self.new_u32.iter())),
        }
    }
}

/// The kind of an app's ids.
///
/// # Errors
/// [`IdsError::NoApp`], or a store failure.
pub fn kind_of(meta: &Meta, app: &str) -> Result<IdKind, IdsError> {
    meta.id_kind(app)?.ok_or_else(|| IdsError::NoApp(app.to_owned()))
}

/// Who an app's users are, to read external ids back into ids (member lists, lookups).
#[derive(Debug, Clone)]
pub struct KnownUsers {
    kind: IdKind,
    /// A `u32` app's universe (a string app's users are its dictionary's entries).
    universe: Option<Arc<IdSet>>,
}

impl KnownUsers {
    /// Reads what is needed to recognise an app's users.
    ///
    /// # Errors
    /// [`IdsError::NoApp`], or a store failure.
    pub fn open(snaps: &Snapshots, app: &str) -> Result<KnownUsers, IdsError> {
        let record = snaps.meta().app(app)?.ok_or_else(|| IdsError::NoApp(app.to_owned()))?;
        let universe = match (record.ids, record.universe) {
            (IdKind::U32, Some(blob)) => Some(snaps.set(&blob)?),
            (IdKind::U32, None) => Some(Arc::new(IdSet::new())),
            (IdKind::Strings, _) => None,
        };
        Ok(KnownUsers { kind: record.ids, universe })
    }

    /// The kind of ids.
    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The id of an external id the app has published, if it has.
    ///
    /// # Errors
    /// A store failure.
    pub fn get(&self, meta: &Meta, app: &str, external: &str) -> Result<Option<u32>, StoreError> {
        match &self.universe {
            None => meta.dict_lookup(app, external),
            Some(universe) => Ok(parse_u32(external).ok().filter(|&id| universe.contains(id))),
        }
    }
}

/// Calls `f(id, external)` for each id in `ids` (increasing), for exports and splits. A string
/// app's dictionary skips ids it does not have (the caller counts what it got).
///
/// # Errors
/// A store failure (damaged dictionary records stop the walk).
pub fn externals(
    meta: &Meta,
    app: &str,
    kind: IdKind,
    ids: impl Iterator<Item = u32>,
    mut f: impl FnMut(u32, &str),
) -> Result<(), StoreError> {
    match kind {
        IdKind::Strings => meta.dict_externals(app, ids, f),
        IdKind::U32 => {
            let mut text = String::with_capacity(10);
            for id in ids {
                use std::fmt::Write as _;
                text.clear();
                let _ = write!(text, "{id}");
                f(id, &text);
            }
            Ok(())
        }
    }
}

/// Why an app's ids could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IdsError {
    /// No such app.
    #[error("no app `{0}`")]
    NoApp(String),
    /// The metadata store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The universe blob could not be read.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The task waiting for the app's lock failed.
    #[error(transparent)]
    Task(#[from] crate::blocking::Panicked),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u32_ids_have_one_spelling() {
        for good in ["0", "1", "10", "4294967295", "123456789"] {
            assert_eq!(parse_u32(good).map(|id| id.to_string()), Ok(good.to_owned()), "{good}");
        }
        for bad in ["", "-1", "+1", "01", "00", " 1", "1 ", "1.0", "4294967296", "99999999999999999999", "1e3", "٣"] {
            assert!(parse_u32(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_u32_upload_names_new_users_once_and_keeps_known_ones() {
        let ids = AppIds::U32(IdSet::from_sorted(&[5, 9]));
        let mut r = ids.resolver();
        for (text, id) in [("9", 9), ("4000000000", 4_000_000_000), ("1", 1), ("4000000000", 4_000_000_000)] {
            assert_eq!(r.resolve(text), Ok(id));
        }
        assert!(r.resolve("x").is_err());
        let new = r.into_new();
        assert_eq!(new, NewUsers::U32(IdSet::from_sorted(&[1, 4_000_000_000])));
        assert_eq!(ids.universe_with(&new), IdSet::from_sorted(&[1, 5, 9, 4_000_000_000]));
    }

    #[test]
    fn a_string_upload_numbers_new_users_after_the_dictionary() {
        let ids = AppIds::Strings(AppDict::from_ids(vec!["a".into()]));
        let mut r = ids.resolver();
        assert_eq!((r.resolve("b"), r.resolve("a"), r.resolve("b"), r.resolve("c")), (Ok(1), Ok(0), Ok(1), Ok(2)));
        let new = r.into_new();
        assert_eq!(new, NewUsers::Strings { first: 1, ids: vec!["b".into(), "c".into()] });
        assert_eq!(ids.universe_with(&new), IdSet::full_range(3));
    }
}
