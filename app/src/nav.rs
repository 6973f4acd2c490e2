//! The pages of the app: their order in the navigation, their paths, whether they exist yet
//! and who sees them. Plain data, so the navigation is tested natively.

use crate::access::Access;

/// A page of the app, in navigation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Page {
    /// Server status and what the app offers.
    Overview,
    /// Browse tag groups and their values.
    Tags,
    /// Build an audience from tags and behaviour, and see its size.
    Audience,
    /// Saved segments.
    Segments,
    /// Segment sizes and rates, day by day.
    Trends,
    /// A/B splits of a segment: preview, balance check, outcome.
    Split,
    /// Ordered event funnels.
    Funnels,
    /// Cross-tabs of two tag groups.
    Pivot,
    /// Two segments side by side.
    Compare,
    /// Which tags and segments one user has.
    Lookup,
    /// Where segments are sent, and how their syncs go.
    Destinations,
    /// The app's tokens, privacy settings and audit log (app admins).
    Settings,
}

impl Page {
    /// Every page, in navigation order.
    pub const ALL: [Page; 12] = [
        Page::Overview,
        Page::Tags,
        Page::Audience,
        Page::Segments,
        Page::Trends,
        Page::Split,
        Page::Funnels,
        Page::Pivot,
        Page::Compare,
        Page::Lookup,
        Page::Destinations,
        Page::Settings,
    ];

    /// Name shown in the navigation.
    pub const fn label(self) -> &'static str {
        match self {
            Page::Overview => "Overview",
            Page::Tags => "Tags",
            Page::Audience => "Audience",
            Page::Segments => "Segments",
            Page::Trends => "Trends",
            Page::Split => "Split",
            Page::Funnels => "Funnels",
            Page::Pivot => "Pivot",
            Page::Compare => "Compare",
            Page::Lookup => "Lookup",
            Page::Destinations => "Destinations",
            Page::Settings => "Settings",
        }
    }

    /// Path of the page in the app.
    ///
    /// ```
    /// use app::nav::Page;
    /// assert_eq!(Page::Overview.path(), "/");
    /// assert_eq!(Page::Audience.path(), "/audience");
    /// ```
    pub const fn path(self) -> &'static str {
        match self {
            Page::Overview => "/",
            Page::Tags => "/tags",
            Page::Audience => "/audience",
            Page::Segments => "/segments",
            Page::Trends => "/trends",
            Page::Split => "/split",
            Page::Funnels => "/funnels",
            Page::Pivot => "/pivot",
            Page::Compare => "/compare",
            Page::Lookup => "/lookup",
            Page::Destinations => "/destinations",
            Page::Settings => "/settings",
        }
    }

    /// One line saying what the page is for.
    pub const fn summary(self) -> &'static str {
        match self {
            Page::Overview => {
                "All users and the fixed populations day by day, the segments that moved, freshness, server status."
            }
            Page::Tags => "Browse tag groups and values, with the number of users in each.",
            Page::Audience => "Build an audience from tags and behaviour; its size updates on every click.",
            Page::Segments => "Save audiences as segments, recomputed every day or frozen.",
            Page::Trends => {
                "Follow up to five segments day by day: size, entries and exits, metric rates vs all users."
            }
            Page::Split => "Split a segment into A/B groups that never reshuffle; check balance, read outcomes.",
            Page::Funnels => {
                "Users who did events in order: conversion, drop-off and time between steps, split by a group."
            }
            Page::Pivot => "Cross two tag groups: users, shares and TGI on a heat scale, as CSV.",
            Page::Compare => "Two segments side by side: sizes, overlap, a tag group's spread in each.",
            Page::Lookup => "See which tags and segments one user has.",
            Page::Destinations => "Send segments to webhooks or files and keep them in sync day by day.",
            Page::Settings => "Tokens, privacy settings and the audit log of the app.",
        }
    }

    /// Whether the page exists yet; the others are shown as coming soon.
    pub const fn is_available(self) -> bool {
        true
    }

    /// Whether the navigation shows the page to a token with `access` (`None`: not known yet,
    /// or not signed in). Settings is for app admins and the server's admin token only.
    ///
    /// ```
    /// use app::access::Access;
    /// use app::api::Role;
    /// use app::nav::Page;
    /// let admin = Access { role: Some(Role::Admin), settings: None };
    /// let viewer = Access { role: Some(Role::Viewer), settings: None };
    /// assert!(Page::Settings.is_shown_to(Some(&admin)));
    /// assert!(!Page::Settings.is_shown_to(Some(&viewer)));
    /// assert!(!Page::Settings.is_shown_to(None));
    /// assert!(Page::Audience.is_shown_to(None));
    /// ```
    pub fn is_shown_to(self, access: Option<&Access>) -> bool {
        match self {
            Page::Settings => access.is_some_and(Access::is_admin),
            // Syncs name user ids: not for aggregate tokens.
            Page::Destinations => access.is_none_or(Access::sees_members),
            _ => true,
        }
    }

    /// Whether the page needs a signed-in app.
    pub const fn needs_session(self) -> bool {
        !matches!(self, Page::Overview)
    }

    /// The page a path belongs to (sub-paths included).
    ///
    /// ```
    /// use app::nav::Page;
    /// assert_eq!(Page::of_path("/audience"), Some(Page::Audience));
    /// assert_eq!(Page::of_path("/"), Some(Page::Overview));
    /// assert_eq!(Page::of_path("/signin"), None);
    /// ```
    pub fn of_path(path: &str) -> Option<Page> {
        if path == "/" || path.is_empty() {
            return Some(Page::Overview);
        }
        Page::ALL
            .into_iter()
            .find(|p| p.path() != "/" && (path == p.path() || path.starts_with(&format!("{}/", p.path()))))
    }

    /// The pages still to come, in navigation order.
    ///
    /// ```
    /// use app::nav::Page;
    /// assert_eq!(Page::upcoming().next(), None, "every page exists");
    /// ```
    pub fn upcoming() -> impl Iterator<Item = Page> {
        Page::ALL.into_iter().filter(|page| !page.is_available())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn paths_and_labels_are_unique() {
        let paths: HashSet<_> = Page::ALL.iter().map(|p| p.path()).collect();
        let labels: HashSet<_> = Page::ALL.iter().map(|p| p.label()).collect();
        assert_eq!(paths.len(), Page::ALL.len());
        assert_eq!(labels.len(), Page::ALL.len());
    }

    #[test]
    fn overview_comes_first_and_exists() {
        assert_eq!(Page::ALL[0], Page::Overview);
        assert!(Page::Overview.is_available());
    }

    #[test]
    fn every_page_exists_and_split_has_its_path() {
        assert_eq!(Page::upcoming().count(), 0);
        assert_eq!(Page::of_path("/split"), Some(Page::Split));
        assert_eq!(Page::of_path("/trends"), Some(Page::Trends));
    }
}
