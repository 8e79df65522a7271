//! Named cohorts: the calls of `/apps/{app}/cohorts`.

use updraft_protocol::api::{CohortMembers, NamedCohort};

use crate::{enc, Client, Result};

impl Client {
    /// `GET /apps/{app}/cohorts`: the app's named cohorts.
    pub async fn list_cohorts(&self, app: &str) -> Result<Vec<NamedCohort>> {
        self.get(&format!("/apps/{}/cohorts", enc(app))).await
    }

    /// `PUT /apps/{app}/cohorts/{name}`: creates the cohort or replaces its members.
    pub async fn put_cohort(
        &self,
        app: &str,
        name: &str,
        members: &CohortMembers,
    ) -> Result<NamedCohort> {
        self.put(
            &format!("/apps/{}/cohorts/{}", enc(app), enc(name)),
            members,
        )
        .await
    }

    /// `DELETE /apps/{app}/cohorts/{name}`: refused while a rule names it.
    pub async fn delete_cohort(&self, app: &str, name: &str) -> Result<()> {
        self.delete(&format!("/apps/{}/cohorts/{}", enc(app), enc(name)))
            .await
    }
}
