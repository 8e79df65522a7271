//! Scheduled deploys: the calls of `/apps/{app}/schedules`.

use updraft_protocol::api::{NewSchedule, Schedule};

use crate::{enc, Client, Result};

impl Client {
    /// `GET /apps/{app}/schedules`: newest first, with when each pending one runs next.
    pub async fn list_schedules(&self, app: &str) -> Result<Vec<Schedule>> {
        self.get(&format!("/apps/{}/schedules", enc(app))).await
    }

    /// `POST /apps/{app}/schedules`: schedules a deploy or a rollout step.
    pub async fn create_schedule(&self, app: &str, new: &NewSchedule) -> Result<Schedule> {
        self.post(&format!("/apps/{}/schedules", enc(app)), new)
            .await
    }

    /// `POST /apps/{app}/schedules/{id}/cancel`: cancels a pending schedule.
    pub async fn cancel_schedule(&self, app: &str, id: i64) -> Result<Schedule> {
        self.post(
            &format!("/apps/{}/schedules/{id}/cancel", enc(app)),
            &serde_json::json!({}),
        )
        .await
    }
}
