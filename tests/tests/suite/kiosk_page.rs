//! The kiosk page is self-contained and carries the controls tests and scripts
//! drive it by. (It is used as a person would in headless Chromium by
//! `make kiosk-browser`.)

use payments_tests::local_stack::Stack;

#[tokio::test]
async fn the_kiosk_page_needs_nothing_but_this_stack_and_names_every_control() {
    let stack = Stack::start().await;
    let served = stack.get("/kiosk").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.content_type(), "text/html; charset=utf-8");
    let page = served.body.as_str().expect("the page as text");

    for testid in [
        "menu-item",
        "create",
        "qr",
        "pay",
        "reject",
        "expire",
        "cancel",
        "status",
        "events",
        "pos",
        "countdown",
        "remove-item",
        "refund",
        "refund-status",
    ] {
        let marked = page.contains(&format!("data-testid=\"{testid}\""))
            || page.contains(&format!("dataset.testid = \"{testid}\""));
        assert!(marked, "no control marked {testid}");
    }
    // The point-of-sale picker offers this stack's points of sale, the
    // default first.
    assert!(
        page.contains(r#"const POINTS_OF_SALE = ["LOCALPOS001","LOCALPOS002"];"#),
        "the page names the stack's points of sale"
    );
    assert!(
        page.contains("pos_id:"),
        "the page sends the chosen point of sale"
    );
    // No CDN, no build step: no external script, style or font, and the only
    // absolute address is this stack's own mock.
    for external in ["<script src", "<link", "@import", "url("] {
        assert!(
            !page.contains(external),
            "the page loads something: {external}"
        );
    }
    let mock = stack.local.mock_url();
    let elsewhere: Vec<&str> = page
        .match_indices("http")
        .map(|(at, _)| &page[at..(at + 40).min(page.len())])
        .filter(|address| !address.starts_with(&mock) && !address.starts_with("http://www.w3.org"))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "addresses outside the stack: {elsewhere:?}"
    );
    stack.stop().await;
}
