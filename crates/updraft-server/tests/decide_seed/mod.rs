//! The decision cases of `updraft-core`'s `cases/decide/` as server state:
//! which cases the server can hold, and seeding one through the store (each
//! case in its own app; its rollouts in [`rollouts`]). Shared by
//! `decide_cases.rs` and `reply_shapes.rs`.

#![allow(dead_code)]

pub(crate) mod rollouts;
use updraft_core::cases::{self, Case};
use updraft_protocol::api::{BundleMeta, CohortMembers, NewApp};
use updraft_store::{NewBundle, Stamp, Store, Write};

/// Every case the server can hold, with its file name.
pub(crate) fn server_cases() -> Vec<(String, Case)> {
    let mut paths: Vec<_> = std::fs::read_dir(cases::DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut all = Vec::new();
    for path in paths {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = cases::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for case in parsed.cases {
            if case.core_only.is_none() {
                all.push((file.clone(), case));
            }
        }
    }
    assert!(!all.is_empty(), "no cases in {}", cases::DIR);
    all
}

/// The app id case `i` runs under (each case has its own app).
pub(crate) fn app_of(i: usize) -> String {
    format!("com.case{i}.app")
}

/// Creates case `case`'s state under `app` through the store.
pub(crate) async fn seed(store: &dyn Store, app: &str, case: &Case) -> Result<(), String> {
    let e = |what: &str| {
        let what = what.to_string();
        move |err: updraft_store::StoreError| format!("seeding {what}: {err}")
    };
    let s = &case.state;
    let device = case.device_request()?.device_id;
    store
        .create_app(
            &NewApp {
                app_id: app.into(),
                name: None,
            },
            &Stamp::system(0),
        )
        .await
        .map_err(e("the app"))?;
    store
        .update_app(app, &s.app, &Stamp::system(0))
        .await
        .map_err(e("app settings"))?;
    for b in &s.bundles {
        let new = NewBundle {
            app_id: app.into(),
            version: b.version.clone(),
            checksum: b.checksum.clone(),
            session_key: b.session_key.clone(),
            key_id: b.key_id.clone(),
            electron_checksum: b.electron_checksum.clone(),
            storage: b.storage,
            blob_sha256: b.blob_sha256.clone(),
            size: None,
            external_url: b.external_url.clone(),
            manifest: b.manifest.clone(),
            meta: BundleMeta {
                min_update_version: b.min_update_version.clone(),
                native_packages: None,
                link: b.link.clone(),
                comment: b.comment.clone(),
            },
        };
        store
            .create_bundle(&new, &Stamp::system(0))
            .await
            .map_err(e(&b.version))?;
    }
    for c in &s.cohorts {
        let members = CohortMembers {
            device_ids: c.device_ids.clone(),
            custom_ids: c.custom_ids.clone(),
        };
        store
            .put_cohort(app, &c.name, &members, 100, &Stamp::system(0))
            .await
            .map_err(e("a cohort"))?;
    }
    for c in &s.channels {
        store
            .create_channel(app, c, &Stamp::system(0))
            .await
            .map_err(e("a channel"))?;
    }
    rollouts::seed_rollouts(store, app, case).await?;
    if let Some(o) = &s.device.forced {
        store
            .set_override(app, &device, o, &Stamp::system(0))
            .await
            .map_err(e("the override"))?;
    }
    // Revoked last, as an operator would: revoking moves what served the bundle.
    for b in s.bundles.iter().filter(|b| b.revoked) {
        store
            .revoke_bundle(
                app,
                &b.version,
                Some("revoked by the case"),
                &Stamp::system(0),
            )
            .await
            .map_err(e("a revocation"))?;
    }
    let failed: Vec<Write> = s
        .device
        .failed
        .iter()
        .map(|v| Write::Failed {
            app_id: app.into(),
            device_id: device.clone(),
            version: v.clone(),
            at: 0,
        })
        .collect();
    store
        .write_batch(&failed)
        .await
        .map_err(e("rollback blocks"))?;
    Ok(())
}
