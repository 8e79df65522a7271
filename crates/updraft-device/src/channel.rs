//! Channel calls on `channelUrl` as the plugin makes them (reference:
//! plugin-protocol §2.4): `POST` sets, `PUT` gets, `GET` lists. A reply is a
//! success only when it is a 2xx JSON object without an `error`; anything else
//! (a proxy's HTML 502 page, a 500 with a text body, an empty body, an error
//! object) is an error with the plugin's code and changes nothing on the device.

use serde_json::{json, Map, Value};

use crate::{Device, DeviceError, Result, BUILTIN};

impl Device {
    /// `POST channelUrl`: asks to move to `channel`; on success the device
    /// stores it and sends it as `defaultChannel` from now on (with
    /// `"unset": true` in the reply it forgets its local channel instead).
    pub async fn set_channel(&mut self, channel: &str) -> Result<Value> {
        let mut body = self.info_object();
        body["channel"] = channel.into();
        let (status, reply) = self.channel_call(reqwest::Method::POST, body).await?;
        let v = self.channel_object(status, &reply)?;
        self.state.channel = if v.get("unset").and_then(Value::as_bool) == Some(true) {
            None
        } else {
            Some(channel.to_string())
        };
        self.save()?;
        Ok(Value::Object(v))
    }

    /// `PUT channelUrl`: which channel the server serves this device from; a
    /// channel in the reply is saved as the device's `defaultChannel`.
    pub async fn get_channel(&mut self) -> Result<Value> {
        let body = self.info_object();
        let (status, reply) = self.channel_call(reqwest::Method::PUT, body).await?;
        if status == 400 && reply.contains("channel_not_found") {
            if let Some(local) = &self.state.channel {
                return Ok(json!({"channel": local, "status": "default"}));
            }
        }
        let v = self.channel_object(status, &reply)?;
        if let Some(c) = v
            .get("channel")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|c| !c.is_empty() && *c != BUILTIN)
        {
            self.state.channel = Some(c.to_string());
            self.save()?;
        }
        Ok(Value::Object(v))
    }

    /// `GET channelUrl`: the channels this device may switch to (a bare array).
    pub async fn list_channels(&self) -> Result<Vec<Value>> {
        let info = self.info_object();
        let query: Vec<(String, String)> = info
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect();
        let res = self
            .http
            .get(&self.cfg.channel_url)
            .query(&query)
            .send()
            .await
            .map_err(|e| DeviceError::failed("list_channels_fail", e.to_string()))?;
        let v: Value = res
            .json()
            .await
            .map_err(|e| DeviceError::failed("list_channels_fail", e.to_string()))?;
        match v {
            Value::Array(a) => Ok(a),
            other => Err(DeviceError::failed("list_channels_fail", other.to_string())),
        }
    }

    /// Forgets the saved channel (local only, as plugins since 7.34 do).
    pub fn unset_channel(&mut self) -> Result<()> {
        self.state.channel = None;
        self.save()
    }

    /// Sends one channel call; returns the status and the raw body.
    async fn channel_call(&self, method: reqwest::Method, body: Value) -> Result<(u16, String)> {
        if self.cfg.channel_url.is_empty() {
            return Err(channel_error("missing_config", "channelUrl is empty"));
        }
        let res = self
            .http
            .request(method, &self.cfg.channel_url)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                let code = if e.is_timeout() {
                    "timeout_error"
                } else {
                    "network_error"
                };
                channel_error(code, format!("Request failed: {e}"))
            })?;
        let status = res.status().as_u16();
        let text = res
            .text()
            .await
            .map_err(|e| channel_error("network_error", format!("Request failed: {e}")))?;
        Ok((status, text))
    }

    /// The plugin's reading of a channel reply: an object with a non-null
    /// `error` is that error (whatever the status); a non-2xx is
    /// `response_error`; a 2xx that is not a JSON object is `parse_error`
    /// (`decode_error` on iOS); only then is it a success.
    fn channel_object(&self, status: u16, body: &str) -> Result<Map<String, Value>> {
        let object = match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        };
        if let Some(o) = &object {
            if let Some(error) = o.get("error").filter(|e| !e.is_null()) {
                let code = error
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| error.to_string());
                let message = o
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("server did not provide a message");
                return Err(channel_error(code, message));
            }
        }
        if !(200..300).contains(&status) {
            return Err(channel_error(
                "response_error",
                format!("Server error: {status}"),
            ));
        }
        object.ok_or_else(|| {
            let code = if self.cfg.platform == "ios" {
                "decode_error"
            } else {
                "parse_error"
            };
            let shown: String = body.chars().take(80).collect();
            channel_error(code, format!("the reply is not a JSON object: {shown:?}"))
        })
    }
}

fn channel_error(error: impl Into<String>, message: impl Into<String>) -> DeviceError {
    DeviceError::Channel {
        error: error.into(),
        message: message.into(),
    }
}
