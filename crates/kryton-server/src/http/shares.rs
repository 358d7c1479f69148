//! Sharing over HTTP: shares, access requests, the user lookup by email, and the notes other users
//! shared with the caller (`/api/notes/shared/{ownerUserId}/{path}`). Every decision about access
//! is made by [`crate::notes::sharing`].

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::AppState;
use super::json::ApiJson;
use super::notes::{NoteBody, NoteContent, NoteWritten, if_match, note_path};
use crate::auth::CurrentUser;
use crate::error::{AppError, ErrorBody};
use crate::markdown;
use crate::notes::sharing::{self, Permission};
use crate::notes::{self, blocking, millis, write};
use crate::store::shares::{self as store, AccessRequestRow, ShareError, ShareRow};
use crate::store::{is_valid_id, iso, users};
use crate::vault::FolderPath;

#[derive(OpenApi)]
#[openapi(paths(
    create_share,
    my_shares,
    shared_with_me,
    update_share,
    revoke_share,
    request_access,
    requests_to_me,
    my_requests,
    answer_request,
    find_user,
    read_shared,
    write_shared,
    delete_shared
))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/shares", get(my_shares).post(create_share))
        .route("/api/shares/with-me", get(shared_with_me))
        .route("/api/shares/{id}", put(update_share).delete(revoke_share))
        .route("/api/access-requests", get(requests_to_me).post(request_access))
        .route("/api/access-requests/mine", get(my_requests))
        .route("/api/access-requests/{id}", put(answer_request))
        .route("/api/users/search", get(find_user))
        .route(
            "/api/notes/shared/{ownerUserId}/{*path}",
            get(read_shared).put(write_shared).delete(delete_shared),
        )
}

// ---- shares ----

/// A share as its owner sees it: the original's fields, plus the recipient's name and email.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    pub id: String,
    pub owner_user_id: String,
    /// A note (`Projects/Plan.md`) or a folder (`Projects`).
    pub path: String,
    pub is_folder: bool,
    pub shared_with_user_id: String,
    pub permission: Permission,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_with_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_with_email: Option<String>,
}

fn share_body(row: ShareRow, recipient: Option<(String, String)>) -> Share {
    let (name, email) = recipient.unzip();
    Share {
        permission: Permission::parse(&row.permission).unwrap_or(Permission::Read),
        id: row.id,
        owner_user_id: row.owner_user_id,
        path: row.path,
        is_folder: row.is_folder,
        shared_with_user_id: row.shared_with_user_id,
        created_at: iso(row.created_at),
        updated_at: iso(row.updated_at),
        shared_with_name: name,
        shared_with_email: email,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewShare {
    /// The note or folder to share, in the caller's vault.
    path: String,
    /// True for a folder: every note below it, including notes created later.
    #[serde(default)]
    is_folder: bool,
    shared_with_user_id: String,
    permission: String,
}

fn parse_permission(text: &str) -> Result<Permission, AppError> {
    Permission::parse(text)
        .ok_or_else(|| AppError::Validation("permission must be \"read\" or \"readwrite\"".to_owned()))
}

/// Shares a note or a folder of the caller's vault with another user. 400: with yourself, with a
/// disabled account, a bad path or permission; 404: no such user, or nothing at that path; 409:
/// already shared with that user (change the permission with `PUT /api/shares/{id}`).
#[utoipa::path(post, path = "/api/shares", tag = "sharing", request_body = NewShare,
    responses((status = 201, body = Share), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn create_share(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiJson(body): ApiJson<NewShare>,
) -> Result<(StatusCode, Json<Share>), AppError> {
    let permission = parse_permission(&body.permission)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let path = if body.is_folder {
        let folder = FolderPath::parse(&body.path).map_err(|e| AppError::Validation(e.to_string()))?;
        let (reader, target) = (vault, folder.clone());
        let exists = blocking(move || Ok(target.resolve(reader.root())?.is_dir())).await?;
        if !exists {
            return Err(AppError::NotFound("folder not found".to_owned()));
        }
        folder.as_str().to_owned()
    } else {
        let note = note_path(&body.path)?;
        let (reader, target) = (vault, note.clone());
        blocking(move || reader.read(&target).map(drop)).await?;
        note.as_str().to_owned()
    };
    if body.shared_with_user_id == me.user.id {
        return Err(AppError::Validation("you cannot share with yourself".to_owned()));
    }
    let recipient = users::by_id(&state.db, &body.shared_with_user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such user".to_owned()))?;
    if recipient.disabled {
        return Err(AppError::Validation("that account is disabled".to_owned()));
    }
    let row = store::create(
        &state.db,
        &me.user.id,
        &path,
        body.is_folder,
        &recipient.id,
        permission.as_str(),
    )
    .await
    .map_err(|e| match e {
        ShareError::Duplicate => AppError::Conflict(e.to_string()),
        ShareError::Database(e) => e.into(),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(share_body(row, Some((recipient.name, recipient.email)))),
    ))
}

/// The shares the caller made, with each recipient's name and email.
#[utoipa::path(get, path = "/api/shares", tag = "sharing", responses((status = 200, body = Vec<Share>)))]
async fn my_shares(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Vec<Share>>, AppError> {
    Ok(Json(
        store::by_owner(&state.db, &me.user.id)
            .await?
            .into_iter()
            .map(|r| share_body(r.share, Some((r.user_name, r.user_email))))
            .collect(),
    ))
}

/// A note or folder shared with the caller: what the web app's "Shared with me" section lists.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SharedWithMe {
    pub id: String,
    pub owner_user_id: String,
    pub owner_name: String,
    pub owner_email: String,
    pub path: String,
    pub is_folder: bool,
    pub permission: Permission,
    pub created_at: String,
    /// The notes the share covers now (one for a note share, every note below a folder share).
    pub notes: Vec<SharedNoteRef>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SharedNoteRef {
    pub path: String,
    pub title: String,
}

/// What other users share with the caller (owners whose accounts are disabled are left out), each
/// with the notes it covers now.
#[utoipa::path(get, path = "/api/shares/with-me", tag = "sharing", responses((status = 200, body = Vec<SharedWithMe>)))]
async fn shared_with_me(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> Result<Json<Vec<SharedWithMe>>, AppError> {
    let rows = store::active_with(&state.db, &me.user.id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let share = row.share;
        let covered = sharing::visible_notes(&state.db, &share.owner_user_id, std::slice::from_ref(&share)).await?;
        out.push(SharedWithMe {
            permission: Permission::parse(&share.permission).unwrap_or(Permission::Read),
            notes: covered
                .into_iter()
                .map(|(path, title, _)| SharedNoteRef { path, title })
                .collect(),
            id: share.id,
            owner_user_id: share.owner_user_id,
            owner_name: row.user_name,
            owner_email: row.user_email,
            path: share.path,
            is_folder: share.is_folder,
            created_at: iso(share.created_at),
        });
    }
    Ok(Json(out))
}

#[derive(Deserialize, ToSchema)]
pub struct ShareChange {
    permission: String,
}

/// A share the caller owns; someone else's share answers 404 like a missing one.
async fn owned_share(state: &AppState, owner: &str, id: &str) -> Result<ShareRow, AppError> {
    match store::by_id(&state.db, id).await? {
        Some(row) if row.owner_user_id == owner => Ok(row),
        _ => Err(AppError::NotFound("share not found".to_owned())),
    }
}

/// Changes a share's permission (in force on the recipient's next request).
#[utoipa::path(put, path = "/api/shares/{id}", tag = "sharing", request_body = ShareChange,
    params(("id" = String, Path)),
    responses((status = 200, body = Share), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_share(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ShareChange>,
) -> Result<Json<Share>, AppError> {
    let permission = parse_permission(&body.permission)?;
    owned_share(&state, &me.user.id, &id).await?;
    let row = store::set_permission(&state.db, &id, permission.as_str())
        .await?
        .ok_or_else(|| AppError::NotFound("share not found".to_owned()))?;
    Ok(Json(share_body(row, None)))
}

#[derive(Serialize, ToSchema)]
pub struct Revoked {
    pub message: String,
}

/// Revokes a share: the recipient's next request is refused.
#[utoipa::path(delete, path = "/api/shares/{id}", tag = "sharing", params(("id" = String, Path)),
    responses((status = 200, body = Revoked), (status = 404, body = ErrorBody)))]
async fn revoke_share(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, AppError> {
    owned_share(&state, &me.user.id, &id).await?;
    store::delete(&state.db, &id).await?;
    Ok(Json(Revoked {
        message: "Share revoked".to_owned(),
    }))
}

// ---- access requests ----

/// A request for access to a note: the original's fields, plus the requester's name and email
/// in the owner's list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessRequest {
    pub id: String,
    pub requester_user_id: String,
    pub owner_user_id: String,
    pub note_path: String,
    /// `pending`, `approved` or `denied`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_email: Option<String>,
    /// The original's nested form of the requester (owner's list only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester: Option<UserFound>,
}

fn request_body(row: AccessRequestRow, requester: Option<UserFound>) -> AccessRequest {
    AccessRequest {
        requester_name: requester.as_ref().map(|u| u.name.clone()),
        requester_email: requester.as_ref().map(|u| u.email.clone()),
        requester,
        id: row.id,
        requester_user_id: row.requester_user_id,
        owner_user_id: row.owner_user_id,
        note_path: row.note_path,
        status: row.status,
        created_at: iso(row.created_at),
        updated_at: iso(row.updated_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewAccessRequest {
    owner_user_id: String,
    note_path: String,
}

/// Asks another user for access to one of their notes. 201 for a new request; 200 with the
/// existing one (a denied request is opened again). Whether the note exists is not checked, so a
/// request tells the requester nothing about the owner's vault.
#[utoipa::path(post, path = "/api/access-requests", tag = "sharing", request_body = NewAccessRequest,
    responses((status = 201, body = AccessRequest), (status = 200, body = AccessRequest),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn request_access(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiJson(body): ApiJson<NewAccessRequest>,
) -> Result<(StatusCode, Json<AccessRequest>), AppError> {
    let path = note_path(&body.note_path)?;
    if body.owner_user_id == me.user.id {
        return Err(AppError::Validation("this note is yours already".to_owned()));
    }
    let owner = users::by_id(&state.db, &body.owner_user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| AppError::NotFound("no such user".to_owned()))?;
    let (row, new) = store::request_access(&state.db, &me.user.id, &owner.id, path.as_str()).await?;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(request_body(row, None))))
}

/// The pending requests the caller has to answer, with each requester's name and email.
#[utoipa::path(get, path = "/api/access-requests", tag = "sharing", responses((status = 200, body = Vec<AccessRequest>)))]
async fn requests_to_me(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> Result<Json<Vec<AccessRequest>>, AppError> {
    Ok(Json(
        store::pending_for_owner(&state.db, &me.user.id)
            .await?
            .into_iter()
            .map(|r| {
                let requester = UserFound {
                    id: r.request.requester_user_id.clone(),
                    name: r.user_name,
                    email: r.user_email,
                };
                request_body(r.request, Some(requester))
            })
            .collect(),
    ))
}

/// The requests the caller made, whatever their status.
#[utoipa::path(get, path = "/api/access-requests/mine", tag = "sharing", responses((status = 200, body = Vec<AccessRequest>)))]
async fn my_requests(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> Result<Json<Vec<AccessRequest>>, AppError> {
    Ok(Json(
        store::by_requester(&state.db, &me.user.id)
            .await?
            .into_iter()
            .map(|r| request_body(r, None))
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct RequestAnswer {
    /// `approve` or `deny`.
    action: String,
    /// `read` or `readwrite`; required to approve.
    permission: Option<String>,
}

/// Approves (creating a share of the note, or changing the permission of the existing one) or
/// denies a request made to the caller. Someone else's request answers 404 like a missing one.
#[utoipa::path(put, path = "/api/access-requests/{id}", tag = "sharing", request_body = RequestAnswer,
    params(("id" = String, Path)),
    responses((status = 200, body = AccessRequest), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn answer_request(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RequestAnswer>,
) -> Result<Json<AccessRequest>, AppError> {
    let approve = match body.action.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return Err(AppError::Validation(
                "action must be \"approve\" or \"deny\"".to_owned(),
            ));
        }
    };
    let permission = match (approve, body.permission.as_deref()) {
        (true, None) => return Err(AppError::Validation("permission is required to approve".to_owned())),
        (true, Some(text)) => Some(parse_permission(text)?),
        (false, _) => None,
    };
    let request = match store::request_by_id(&state.db, &id).await? {
        Some(r) if r.owner_user_id == me.user.id => r,
        _ => return Err(AppError::NotFound("access request not found".to_owned())),
    };
    let row = match permission {
        Some(permission) => {
            let requester = users::by_id(&state.db, &request.requester_user_id)
                .await?
                .ok_or_else(|| AppError::NotFound("no such user".to_owned()))?;
            if requester.disabled {
                return Err(AppError::Validation("that account is disabled".to_owned()));
            }
            store::approve(&state.db, &request, permission.as_str()).await?
        }
        None => store::deny(&state.db, &id)
            .await?
            .ok_or_else(|| AppError::NotFound("access request not found".to_owned()))?,
    };
    Ok(Json(request_body(row, None)))
}

// ---- user lookup ----

/// One user, as a lookup by email shows them.
#[derive(Serialize, ToSchema)]
pub struct UserFound {
    pub id: String,
    pub name: String,
    pub email: String,
}

#[derive(Deserialize, IntoParams)]
pub struct EmailQuery {
    /// The exact email address (case does not matter).
    email: Option<String>,
}

/// Finds the one active user with exactly this email, to share with them. Never a list, never a
/// prefix search; rate-limited per caller (`USER_SEARCH_RATE_LIMIT_MAX` per `RATE_LIMIT_WINDOW`).
#[utoipa::path(get, path = "/api/users/search", tag = "sharing", params(EmailQuery),
    responses((status = 200, body = UserFound), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn find_user(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Query(query): Query<EmailQuery>,
) -> Result<Json<UserFound>, AppError> {
    let email = query.email.as_deref().map(str::trim).unwrap_or_default();
    if email.is_empty() {
        return Err(AppError::Validation("email is required".to_owned()));
    }
    state
        .limits
        .user_search
        .check(&format!("user-search:{}", me.user.id))
        .map_err(AppError::RateLimited)?;
    match users::by_email(&state.db, &email.to_lowercase()).await? {
        Some(user) if !user.disabled => Ok(Json(UserFound {
            id: user.id,
            name: user.name,
            email: user.email,
        })),
        _ => Err(AppError::NotFound("no user with that email".to_owned())),
    }
}

// ---- notes shared with me ----

/// A note read through a share: the fields of `GET /api/notes/{path}`, plus whose it is and what
/// the caller may do with it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SharedNote {
    #[serde(flatten)]
    pub note: NoteBody,
    pub owner_user_id: String,
    pub permission: Permission,
    pub is_shared: bool,
}

fn with_etag(mut response: Response, hash: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("\"{hash}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The owner segment must look like a user id; anything else is a folder of the caller's own vault
/// that happens to be called `shared` (`/api/notes/shared/ideas/x.md`), served as their own note.
fn own_note_under_shared(owner: &str, path: &str) -> Option<String> {
    (!is_valid_id(owner)).then(|| format!("shared/{owner}/{path}"))
}

/// Reads a note another user shared with the caller (`read` or `readwrite`), with its `ETag`.
/// 403 when no share covers the path (whether or not the note exists); 404 when a share covers it
/// and there is no such note.
#[utoipa::path(get, path = "/api/notes/shared/{ownerUserId}/{path}", tag = "sharing",
    params(("ownerUserId" = String, Path, description = "The owner's user id"),
        ("path" = String, Path, description = "The note's path in the owner's vault (slashes allowed)")),
    responses((status = 200, body = SharedNote, headers(("ETag" = String))), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn read_shared(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path((owner, raw)): Path<(String, String)>,
) -> Result<Response, AppError> {
    if let Some(own) = own_note_under_shared(&owner, &raw) {
        return super::notes::read(State(state), CurrentUser(me), Path(own)).await;
    }
    let path = note_path(&raw)?;
    let permission = sharing::authorize(&state.db, &owner, &path, &me.user.id, false).await?;
    let vault = notes::vault(&state.config, &owner);
    let (note, parsed) = blocking(move || {
        vault.read(&path).map(|note| {
            let parsed = markdown::parse(&note.content, note.path.stem());
            (note, parsed)
        })
    })
    .await?;
    let body = SharedNote {
        note: NoteBody {
            path: note.path.as_str().to_owned(),
            title: parsed.title,
            content: note.content,
            etag: note.hash.clone(),
            size: note.size,
            modified_at: iso(millis(note.modified)),
            tags: parsed.tags,
            links: parsed.links,
        },
        owner_user_id: owner,
        permission,
        is_shared: true,
    };
    Ok(with_etag(Json(body).into_response(), &note.hash))
}

/// Writes a note shared with the caller `readwrite`, into the owner's vault and history, under the
/// owner's vault lock, with the rules of `PUT /api/notes/{path}`: with `If-Match`, only if the
/// note is still that version (412 otherwise); without it, a missing note inside a shared folder
/// is created. 403 for a `read` share or no share.
#[utoipa::path(put, path = "/api/notes/shared/{ownerUserId}/{path}", tag = "sharing", request_body = NoteContent,
    params(("ownerUserId" = String, Path, description = "The owner's user id"),
        ("path" = String, Path, description = "The note's path in the owner's vault (slashes allowed)"),
        ("If-Match" = Option<String>, Header, description = "The ETag this change is based on")),
    responses((status = 200, body = NoteWritten, headers(("ETag" = String))), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn write_shared(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path((owner, raw)): Path<(String, String)>,
    headers: HeaderMap,
    body: ApiJson<NoteContent>,
) -> Result<Response, AppError> {
    if let Some(own) = own_note_under_shared(&owner, &raw) {
        return super::notes::update(State(state), CurrentUser(me), Path(own), headers, body).await;
    }
    let ApiJson(body) = body;
    let path = note_path(&raw)?;
    sharing::authorize(&state.db, &owner, &path, &me.user.id, true).await?;
    let expected = if_match(&headers);
    let existed = expected.is_some() || {
        let (reader, target) = (notes::vault(&state.config, &owner), path.clone());
        blocking(move || Ok(target.resolve(reader.root())?.is_file())).await?
    };
    // The owner's own write path: the same compare-and-swap, history and index update.
    let hash = write::write(&state.db, &state.config, &owner, &path, body.content, expected).await?;
    let body = NoteWritten {
        path: path.as_str().to_owned(),
        message: if existed { "Note saved" } else { "Note created" }.to_owned(),
        etag: hash.clone(),
        created: !existed,
    };
    Ok(with_etag(Json(body).into_response(), &hash))
}

/// Notes shared with the caller cannot be deleted through the share (403: ask the owner). For
/// symmetry with the two routes above, a path whose first segment is not a user id is the caller's
/// own note under a folder called `shared`, deleted like `DELETE /api/notes/{path}`.
#[utoipa::path(delete, path = "/api/notes/shared/{ownerUserId}/{path}", tag = "sharing",
    params(("ownerUserId" = String, Path, description = "The owner's user id"),
        ("path" = String, Path, description = "The note's path (slashes allowed)")),
    responses((status = 200, body = super::notes::Deleted), (status = 403, body = ErrorBody)))]
async fn delete_shared(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path((owner, raw)): Path<(String, String)>,
) -> Result<Response, AppError> {
    if let Some(own) = own_note_under_shared(&owner, &raw) {
        return super::notes::remove(State(state), CurrentUser(me), Path(own))
            .await
            .map(IntoResponse::into_response);
    }
    note_path(&raw)?;
    Err(AppError::Forbidden(
        "a note shared with you cannot be deleted through the share; ask its owner".to_owned(),
    ))
}
