//! The frame around every page: header with the product name and navigation.

use leptos::prelude::*;

use crate::nav::Page;
use crate::pages::overview::Overview;

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <div class="shell">
            <Header current=Page::Overview />
            <main class="content" id="main">
                <Overview />
            </main>
            <footer class="footer">
                "Sieve app " {env!("CARGO_PKG_VERSION")}
            </footer>
        </div>
    }
}

/// Product name and the navigation between pages.
#[component]
fn Header(current: Page) -> impl IntoView {
    view! {
        <header class="header">
            <div class="header-inner">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true"></span>
                    <span class="brand-name">"Sieve"</span>
                </a>
                <nav class="nav" aria-label="Main">
                    <ul class="nav-list">
                        {Page::ALL
                            .into_iter()
                            .map(|page| view! { <li><NavItem page current=page == current /></li> })
                            .collect_view()}
                    </ul>
                </nav>
            </div>
        </header>
    }
}

/// One entry of the navigation: a link when the page exists, a muted label
/// when it is still to come.
#[component]
fn NavItem(page: Page, current: bool) -> impl IntoView {
    if page.is_available() {
        view! {
            <a
                class="nav-item"
                class:is-current=current
                href=page.path()
                aria-current=current.then_some("page")
            >
                {page.label()}
            </a>
        }
        .into_any()
    } else {
        view! {
            <span class="nav-item is-soon" aria-disabled="true" title="Coming soon">
                {page.label()}
            </span>
        }
        .into_any()
    }
}
