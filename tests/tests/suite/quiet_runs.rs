//! Scheduled runs that found nothing log at debug: at the local stack's
//! one-second schedule, an info line per idle run would bury the events.

use std::time::Duration;

use payments_tests::backends::{command, Backend, OnBackend};
use payments_tests::logs::Captured;

#[tokio::test]
async fn idle_relay_and_sweeper_runs_say_nothing_at_info_and_a_busy_sweep_does() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.subscriber(tracing::Level::INFO));
    let h = <Backend as OnBackend>::memory().await;

    h.relay().execute().await.unwrap();
    h.sweeper().execute().await.unwrap();
    let idle = captured.text();
    for quiet in [
        "outbox relayed",
        "outbox empty",
        "due payments swept",
        "nothing due",
    ] {
        assert!(!idle.contains(quiet), "{quiet}: {idle}");
    }

    // A payment past its expiry: the sweep that settles it says so.
    h.create()
        .execute(command("ord-quiet-runs", 2590), None)
        .await
        .unwrap();
    h.sweeper_later(Duration::from_secs(3600))
        .execute()
        .await
        .unwrap();
    assert!(captured.text().contains("due payments swept"));
    h.stop().await;
}
