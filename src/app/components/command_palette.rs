//! Ctrl-K (Cmd-K on a Mac): jump to any page, or paste whatever a customer sent and land on
//! the order. `?` lists every shortcut. Both are overlays opened from the keyboard
//! (`app::keyboard`) or the header's button; Escape closes them.

use leptos::{html, prelude::*};
use leptos_router::hooks::use_navigate;

use crate::app::{format, routes::ROUTES};

/// Which overlay is open, shared by the keyboard handler, the header and the overlays.
#[derive(Debug, Clone, Copy)]
pub struct Overlays {
    pub palette: RwSignal<bool>,
    pub help: RwSignal<bool>,
}

impl Overlays {
    pub fn provide() -> Self {
        let overlays = Self { palette: RwSignal::new(false), help: RwSignal::new(false) };
        provide_context(overlays);
        overlays
    }

    pub fn close(&self) {
        self.palette.set(false);
        self.help.set(false);
    }
}

/// The shortcuts, as the help overlay lists them.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Ctrl K / ⌘ K", "Command palette: jump to a page, or paste any order ID"),
    ("/", "Focus the search box"),
    ("j / k", "Next / previous row of a result list"),
    ("Enter", "Open the focused row or palette choice"),
    ("?", "This list of shortcuts"),
    ("Esc", "Close the palette or this list"),
];

/// What the palette offers for `text`: finding it as an order first (anything pasted is
/// tried as an ID), then the pages whose name contains it.
pub fn choices(text: &str, pages: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
    let text = text.trim();
    let mut out = Vec::new();
    if !text.is_empty() {
        out.push((format!("Find order “{text}”"), format!("/search?q={}", format::urlencode(text))));
    }
    let needle = text.to_lowercase();
    out.extend(
        pages
            .iter()
            .filter(|(label, _)| needle.is_empty() || label.to_lowercase().contains(&needle))
            .map(|(label, href)| (format!("Go to {label}"), (*href).to_owned())),
    );
    out
}

#[component]
pub fn CommandPalette() -> impl IntoView {
    let overlays = expect_context::<Overlays>();
    let role = crate::app::viewer::current().map(|v| v.role);
    let pages: Vec<(&'static str, &'static str)> = std::iter::once(("Home", "/"))
        .chain(
            ROUTES
                .iter()
                .filter(|r| role.is_some_and(|role| role.allows(r.role)))
                .filter_map(|r| Some((r.nav?, r.path))),
        )
        .collect();
    let text = RwSignal::new(String::new());
    let selected = RwSignal::new(0usize);
    let input = NodeRef::<html::Input>::new();
    let offered = Memo::new(move |_| choices(&text.get(), &pages));
    // Opened: start afresh with the focus in the box (the box is made on opening, so this
    // runs again once it is there).
    Effect::new(move |_| {
        if overlays.palette.get() {
            if let Some(el) = input.get() {
                let _ = el.focus();
            }
        } else {
            text.set(String::new());
            selected.set(0);
        }
    });
    let navigate = use_navigate();
    let go = move |i: usize| {
        if let Some((_, href)) = offered.get_untracked().get(i) {
            overlays.close();
            navigate(href, Default::default());
        }
    };
    let go_click = go.clone();
    let keys = move |e: leptos::ev::KeyboardEvent| {
        let n = offered.get_untracked().len().max(1);
        match e.key().as_str() {
            "ArrowDown" => {
                e.prevent_default();
                selected.update(|s| *s = (*s + 1) % n);
            }
            "ArrowUp" => {
                e.prevent_default();
                selected.update(|s| *s = (*s + n - 1) % n);
            }
            "Enter" => {
                e.prevent_default();
                go(selected.get_untracked());
            }
            "Escape" => overlays.close(),
            _ => {}
        }
    };
    view! {
        <Backdrop open=overlays.palette>
            <div
                role="dialog"
                aria-modal="true"
                aria-label="Command palette"
                data-testid="command-palette"
                class="w-full max-w-lg rounded-lg bg-white shadow-xl dark:bg-slate-900"
                on:click=|e| e.stop_propagation()
            >
                <label class="sr-only" for="palette-input">
                    "Page or order ID"
                </label>
                <input
                    id="palette-input"
                    node_ref=input
                    type="text"
                    autocomplete="off"
                    spellcheck="false"
                    placeholder="Jump to a page, or paste any order ID…"
                    class="w-full rounded-t-lg border-b border-slate-200 bg-transparent px-4 py-3 font-mono dark:border-slate-700"
                    prop:value=move || text.get()
                    on:input=move |e| {
                        text.set(event_target_value(&e));
                        selected.set(0);
                    }
                    on:keydown=keys.clone()
                    role="combobox"
                    aria-expanded="true"
                    aria-controls="palette-choices"
                    aria-activedescendant=move || format!("palette-choice-{}", selected.get())
                />
                <ul id="palette-choices" role="listbox" class="max-h-80 overflow-y-auto py-1">
                    {
                        let go_click = go_click.clone();
                        move || {
                            offered
                                .get()
                                .into_iter()
                                .enumerate()
                                .map(|(i, (label, _))| {
                                    let go = go_click.clone();
                                    view! {
                                        <li
                                            id=format!("palette-choice-{i}")
                                            role="option"
                                            aria-selected=move || (selected.get() == i).to_string()
                                            data-testid="palette-choice"
                                            class="cursor-pointer px-4 py-2 text-sm aria-selected:bg-indigo-50 aria-selected:text-indigo-800 dark:aria-selected:bg-indigo-950 dark:aria-selected:text-indigo-200"
                                            on:mouseenter=move |_| selected.set(i)
                                            on:click=move |_| go(i)
                                        >
                                            {label}
                                        </li>
                                    }
                                })
                                .collect_view()
                        }
                    }
                </ul>
                <p class="border-t border-slate-200 px-4 py-2 text-xs text-slate-500 dark:border-slate-700 dark:text-slate-400">
                    "↑ ↓ to choose · Enter to go · Esc to close · ? for every shortcut"
                </p>
            </div>
        </Backdrop>
    }
}

/// The dimmed page behind an overlay, there only while `open`: a closed overlay is not in the
/// page at all (every page the server writes would otherwise carry both dialogs, hidden, about
/// a fifth of an order page's HTML). A click on it closes every overlay.
#[component]
fn Backdrop(open: RwSignal<bool>, children: ChildrenFn) -> impl IntoView {
    let overlays = expect_context::<Overlays>();
    view! {
        <Show when=move || open.get()>
            <div
                class="fixed inset-0 z-50 flex items-start justify-center bg-slate-900/50 px-4 pt-24"
                on:click=move |_| overlays.close()
            >
                {children()}
            </div>
        </Show>
    }
}

#[component]
pub fn ShortcutHelp() -> impl IntoView {
    let overlays = expect_context::<Overlays>();
    view! {
        <Backdrop open=overlays.help>
            <div
                role="dialog"
                aria-modal="true"
                aria-labelledby="shortcuts-title"
                data-testid="shortcut-help"
                class="w-full max-w-md rounded-lg bg-white p-4 shadow-xl dark:bg-slate-900"
                on:click=|e| e.stop_propagation()
            >
                <h2 id="shortcuts-title" class="font-semibold">
                    "Keyboard shortcuts"
                </h2>
                <dl class="mt-3 grid grid-cols-[max-content_1fr] gap-x-4 gap-y-2 text-sm">
                    {SHORTCUTS
                        .iter()
                        .map(|(keys, what)| {
                            view! {
                                <dt>
                                    <kbd class="rounded border border-slate-300 px-1.5 py-0.5 font-mono text-xs dark:border-slate-600">
                                        {*keys}
                                    </kbd>
                                </dt>
                                <dd>{*what}</dd>
                            }
                        })
                        .collect_view()}
                </dl>
                <button
                    type="button"
                    class="mt-4 rounded border border-slate-300 px-3 py-1 text-sm dark:border-slate-600"
                    on:click=move |_| overlays.close()
                >
                    "Close"
                </button>
            </div>
        </Backdrop>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGES: &[(&str, &str)] = &[("Home", "/"), ("Orders", "/orders"), ("Counters", "/counters")];

    #[test]
    fn anything_typed_is_first_tried_as_an_order_then_pages_match_by_name() {
        let c = choices(" #ORD-A3F8D2 ", PAGES);
        assert_eq!(c[0].1, "/search?q=%23ORD-A3F8D2");
        assert_eq!(c.len(), 1, "no page is called that");
        let c = choices("count", PAGES);
        assert_eq!(c.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>(), ["/search?q=count", "/counters"]);
        assert_eq!(choices("", PAGES).len(), 3, "every page when nothing is typed");
    }
}
