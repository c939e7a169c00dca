use leptos::prelude::*;

/// Copies a value to the clipboard (with JavaScript); the value beside it stays selectable
/// text either way.
#[component]
pub fn CopyButton(#[prop(into)] text: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let label = format!("Copy {text}");
    let on_click = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let _ = window().navigator().clipboard().write_text(&text);
        }
        copied.set(true);
    };
    view! {
        <button
            type="button"
            on:click=on_click
            aria-label=label
            class="ml-2 rounded border border-slate-300 px-1.5 py-0.5 text-xs text-slate-600 hover:bg-slate-100 dark:border-slate-600 dark:text-slate-300 dark:hover:bg-slate-800"
        >
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}
