//! End-to-end tests: real SQLite files, real HTTP on 127.0.0.1, the real binary where a
//! process matters (kill -9, CLI). One test binary; `helpers` spawns apps.

mod browser;
mod browser_contacts;
mod browser_sources;
mod browser_support;
mod bulk;
mod cli;
mod crash;
mod crash_loop;
mod docs;
mod dry_run;
mod erase;
mod every_provider;
mod flood;
mod helpers;
mod keys;
mod limits;
mod login_limits;
mod mailbox;
mod metrics;
mod multinode;
mod openapi;
mod outbound;
mod policy;
mod postgres;
mod providers;
mod rejections;
mod request_log;
mod ses;
mod source_traffic;
mod sources;
mod stats;
mod store_copy;
mod test_event;
mod unsubscribe;
mod webhooks;
