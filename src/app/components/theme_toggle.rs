use leptos::prelude::*;

/// Switches between light and dark. The initial theme follows the system setting (or the
/// last choice, kept in localStorage) and is applied by `public/theme.js` before paint.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let toggle = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(root) = document().document_element() {
            let dark = root.class_list().toggle("dark").unwrap_or(false);
            if let Ok(Some(storage)) = window().local_storage() {
                let _ = storage.set_item("theme", if dark { "dark" } else { "light" });
            }
        }
    };
    view! {
        <button
            type="button"
            on:click=toggle
            aria-label="Toggle dark mode"
            title="Toggle dark mode"
            class="rounded border border-slate-300 px-2 py-1 text-sm dark:border-slate-700"
        >
            <span class="dark:hidden">"☾"</span>
            <span class="hidden dark:inline">"☀"</span>
        </button>
    }
}
