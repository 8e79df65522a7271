//! Staged rollouts, release metrics and the explanation of a device's last
//! update decision: the calls of `/apps/{app}/channels/{name}/rollout`,
//! `/apps/{app}/rollouts`, `/apps/{app}/metrics` and
//! `/apps/{app}/devices/{device}/explain`.

use updraft_protocol::api::{
    Explanation, MetricsQuery, NewRollout, ReleaseMetrics, Rollout, RolloutAction, RolloutStatus,
    RolloutVerb,
};

use crate::{enc, Client, Result};

impl Client {
    /// `POST /apps/{app}/channels/{name}/rollout`: starts a rollout of
    /// `new.bundle` beside the channel's bundle (the server's default plan
    /// when `new.plan` is absent). 409 while the channel has an active
    /// rollout; 400 for an invalid plan or the channel's own bundle.
    pub async fn start_rollout(
        &self,
        app: &str,
        channel: &str,
        new: &NewRollout,
    ) -> Result<Rollout> {
        self.post(&rollout_path(app, channel), new).await
    }

    /// `GET /apps/{app}/channels/{name}/rollout`: the channel's latest
    /// rollout, its arms' health and its latest gate evaluations; 404 when
    /// the channel never had one.
    pub async fn rollout_status(&self, app: &str, channel: &str) -> Result<RolloutStatus> {
        self.get(&rollout_path(app, channel)).await
    }

    /// `POST /apps/{app}/channels/{name}/rollout/{action}`: pauses, resumes,
    /// advances, promotes or reverts the channel's rollout, with an optional
    /// reason for the change log; 409 when its state does not allow it.
    pub async fn rollout_action(
        &self,
        app: &str,
        channel: &str,
        verb: RolloutVerb,
        action: &RolloutAction,
    ) -> Result<Rollout> {
        let path = format!("{}/{}", rollout_path(app, channel), verb.as_str());
        self.post(&path, action).await
    }

    /// `GET /apps/{app}/rollouts`: the app's rollouts, newest first.
    pub async fn list_rollouts(&self, app: &str) -> Result<Vec<Rollout>> {
        self.get(&format!("/apps/{}/rollouts", enc(app))).await
    }

    /// `GET /apps/{app}/metrics`: one bundle's release (by `query.bundle`, or
    /// the bundle `query.channel` rolls out) over a window; 400 unless exactly
    /// one of the two is given.
    pub async fn release_metrics(&self, app: &str, query: &MetricsQuery) -> Result<ReleaseMetrics> {
        let url = self.url(&format!("/apps/{}/metrics", enc(app)));
        self.json(self.http.get(&url).query(query), &url).await
    }

    /// `GET /apps/{app}/devices/{device}/explain`: the update decision for
    /// the device's last recorded request, and why; 404 when the device was
    /// never seen.
    pub async fn explain_device(&self, app: &str, device: &str) -> Result<Explanation> {
        self.get(&format!(
            "/apps/{}/devices/{}/explain",
            enc(app),
            enc(device)
        ))
        .await
    }
}

fn rollout_path(app: &str, channel: &str) -> String {
    format!("/apps/{}/channels/{}/rollout", enc(app), enc(channel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_paths_encode_app_and_channel() {
        assert_eq!(
            rollout_path("com.example.app", "beta 2/x"),
            "/apps/com.example.app/channels/beta%202%2Fx/rollout"
        );
    }
}
