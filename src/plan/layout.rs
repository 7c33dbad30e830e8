//! Composite layouts: Agora resets every layout field a call leaves out, so
//! recplan always sends the whole layout in force.

use crate::agora::request::{TranscodingConfig, UpdateLayoutClientRequest};

/// The layout part of start's transcodingConfig.
pub fn of_transcoding(config: &TranscodingConfig) -> UpdateLayoutClientRequest {
    UpdateLayoutClientRequest {
        mixed_video_layout: config.mixed_video_layout,
        max_resolution_uid: config.max_resolution_uid.clone(),
        background_color: config.background_color.clone(),
        background_image: config.background_image.clone(),
        default_user_background_image: config.default_user_background_image.clone(),
        layout_config: config.layout_config.clone(),
        background_config: config.background_config.clone(),
    }
}

/// The layout after a step: the step's fields over the current ones. Custom
/// regions carry over only while the layout stays custom (3), and the large
/// window's uid only while it stays vertical (2), since Agora refuses them
/// with any other layout.
pub fn apply(
    current: &UpdateLayoutClientRequest,
    change: &UpdateLayoutClientRequest,
) -> UpdateLayoutClientRequest {
    let layout = change.mixed_video_layout.or(current.mixed_video_layout);
    let keep_if = |wanted: u8| {
        layout == Some(wanted) && change.mixed_video_layout.is_none_or(|l| l == wanted)
    };
    UpdateLayoutClientRequest {
        mixed_video_layout: layout,
        max_resolution_uid: change
            .max_resolution_uid
            .clone()
            .or_else(|| current.max_resolution_uid.clone().filter(|_| keep_if(2))),
        background_color: change
            .background_color
            .clone()
            .or_else(|| current.background_color.clone()),
        background_image: change
            .background_image
            .clone()
            .or_else(|| current.background_image.clone()),
        default_user_background_image: change
            .default_user_background_image
            .clone()
            .or_else(|| current.default_user_background_image.clone()),
        layout_config: change
            .layout_config
            .clone()
            .or_else(|| current.layout_config.clone().filter(|_| keep_if(3))),
        background_config: change
            .background_config
            .clone()
            .or_else(|| current.background_config.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_fields_the_step_leaves_out() {
        let current = UpdateLayoutClientRequest {
            mixed_video_layout: Some(2),
            max_resolution_uid: Some("7".to_owned()),
            background_color: Some("#FF0000".to_owned()),
            ..Default::default()
        };
        let to_grid = UpdateLayoutClientRequest {
            mixed_video_layout: Some(1),
            ..Default::default()
        };
        let next = apply(&current, &to_grid);
        assert_eq!(next.mixed_video_layout, Some(1));
        assert_eq!(next.background_color.as_deref(), Some("#FF0000"));
        assert_eq!(
            next.max_resolution_uid, None,
            "only vertical layouts take a large window"
        );
        let recolour = UpdateLayoutClientRequest {
            background_color: Some("#000000".to_owned()),
            ..Default::default()
        };
        let same_layout = apply(&current, &recolour);
        assert_eq!(same_layout.max_resolution_uid.as_deref(), Some("7"));
    }
}
