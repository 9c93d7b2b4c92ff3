//! Users as others see them: full profiles, profile photos and the lookups
//! by username and phone that `contacts.resolve*` answer. Owns nothing
//! beyond what [`super::User`] holds.

use grammers_tl_types as tl;

use super::build::{notify_settings, peer_settings};
use super::peers::Peer;
use super::{UserId, World};
use crate::RpcError;

impl World {
    /// The full profile of `user` as `viewer` sees it.
    pub(crate) fn tl_full_user(
        &self,
        user: UserId,
        viewer: UserId,
    ) -> Result<tl::types::users::UserFull, RpcError> {
        let u = self
            .user(user)
            .ok_or_else(|| RpcError::bad_request("USER_ID_INVALID"))?;
        let common_chats = self
            .chats_of(user)
            .filter(|c| c.member(viewer).is_some())
            .count()
            + self
                .channels_of(user)
                .filter(|c| c.is_member(viewer))
                .count();
        let full = tl::types::UserFull {
            blocked: false,
            phone_calls_available: false,
            phone_calls_private: false,
            can_pin_message: true,
            has_scheduled: false,
            video_calls_available: false,
            voice_messages_forbidden: false,
            translations_disabled: false,
            stories_pinned_available: false,
            blocked_my_stories_from: false,
            wallpaper_overridden: false,
            contact_require_premium: false,
            read_dates_private: false,
            sponsored_enabled: false,
            can_view_revenue: false,
            bot_can_manage_emoji_status: false,
            display_gifts_button: false,
            noforwards_my_enabled: false,
            noforwards_peer_enabled: false,
            unofficial_security_risk: false,
            id: user,
            about: (!u.about.is_empty()).then(|| u.about.clone()),
            settings: peer_settings(),
            personal_photo: None,
            profile_photo: u.photos.first().map(|&p| self.tl_photo(p, viewer)),
            fallback_photo: None,
            notify_settings: notify_settings(),
            bot_info: None,
            pinned_msg_id: None,
            common_chats_count: common_chats as i32,
            folder_id: self.folder_of(viewer, Peer::User(user)),
            ttl_period: None,
            theme: None,
            private_forward_name: None,
            bot_group_admin_rights: None,
            bot_broadcast_admin_rights: None,
            wallpaper: None,
            stories: None,
            business_work_hours: None,
            business_location: None,
            business_greeting_message: None,
            business_away_message: None,
            business_intro: None,
            birthday: None,
            personal_channel_id: None,
            personal_channel_message: None,
            stargifts_count: None,
            starref_program: None,
            bot_verification: None,
            send_paid_messages_stars: None,
            disallowed_gifts: None,
            stars_rating: None,
            stars_my_pending_rating: None,
            stars_my_pending_rating_date: None,
            main_tab: None,
            saved_music: None,
            note: None,
            bot_manager_id: None,
        };
        Ok(tl::types::users::UserFull {
            full_user: full.into(),
            chats: Vec::new(),
            users: self.tl_user(user, viewer).into_iter().collect(),
        })
    }

    /// Profile photos of `user`, newest first.
    pub fn profile_photos(&self, user: UserId) -> Vec<super::PhotoId> {
        self.user(user)
            .map(|u| u.photos.clone())
            .unwrap_or_default()
    }

    /// Resolves a username to a user or a channel.
    pub fn resolve_username(&self, username: &str) -> Option<Peer> {
        if let Some(u) = self.user_by_username(username) {
            return Some(Peer::User(u.id));
        }
        self.channel_by_username(username)
            .map(|c| Peer::Channel(c.id))
    }
}
