//! The resident's side without an account: follow a request by its number and the phone number
//! given with it, rate the outcome after closure (the rating is the revisit when the hotline has
//! not called back), ask for it to be handled again, and the public list with personal data removed.

use cityloop_domain::workflow::{Actor, FlowEntry, Move, MoveKind, Relation};
use cityloop_domain::{Case, State};
use cityloop_store::{CaseFilter, CaseScope, CaseSort};

use crate::error::{AppError, Result};
use crate::moves::{rating, CaseRef, MoveInput};
use crate::App;

/// A request as its resident follows it.
#[derive(Debug, Clone)]
pub struct TrackedCase {
    pub case: Case,
    pub flow: Vec<(i64, FlowEntry)>,
    pub can_rate: bool,
    pub can_reopen: bool,
    /// The case a merged request is handled with: its number and where it stands, so that the
    /// resident follows the handling (nothing more of it: it is another resident's request).
    pub master: Option<(String, State)>,
}

/// A page of the public list.
#[derive(Debug, Clone)]
pub struct PublicPage {
    pub items: Vec<Case>,
    pub page: i64,
    pub page_size: i64,
    /// Whether a next page exists (the public list does not count all requests).
    pub has_more: bool,
}

/// A phone number as the digits a resident may type it with or without the country code:
/// `+86 138-0000-6666`, `008613800006666` and `13800006666` are one number.
fn national_digits(phone: &str) -> String {
    crate::intake::phone_key(phone).trim_start_matches('+').to_string()
}

impl App {
    /// A request followed by number and phone. A wrong phone and an unknown number give the same
    /// answer, so that the numbers of other residents' requests reveal nothing.
    pub async fn track_case(&self, number: &str, phone: &str) -> Result<TrackedCase> {
        let case = self.resident_case(number, phone).await?;
        let flow = self.store.flows(case.id).await?;
        self.tracked(case, flow).await
    }

    /// The resident rates a closed request.
    pub async fn rate_as_resident(&self, number: &str, phone: &str, input: &MoveInput) -> Result<TrackedCase> {
        let mv = rating(input)?;
        self.resident_move(number, phone, &mv, input).await
    }

    /// The resident is not satisfied and asks for the request to be handled again (重办), saying why
    /// if they will.
    pub async fn reopen_as_resident(&self, number: &str, phone: &str, reason: &str) -> Result<TrackedCase> {
        let reopen = Move::Reopen { reason: reason.to_string() };
        self.resident_move(number, phone, &reopen, &MoveInput::default()).await
    }

    /// Recent requests for the public list and map: never confidential or voided ones; the
    /// surfaces show no contact data and coarse locations only.
    pub async fn public_cases(&self, page: i64, page_size: i64) -> Result<PublicPage> {
        let page = page.clamp(1, 100_000);
        let page_size = page_size.clamp(1, 200);
        let mut f = CaseFilter::new(CaseScope::everything(), self.now());
        f.public_only = true;
        f.count_total = false;
        f.sort = CaseSort::CreatedDesc;
        f.limit = page_size;
        f.offset = (page - 1) * page_size;
        let mut items = self.store.list_cases(&f).await?.items;
        let has_more = items.len() as i64 > page_size;
        items.truncate(page_size as usize);
        for case in &mut items {
            // The list shows titles: the contact and the address are cleared, and the texts masked, so
            // that a page cannot show more by mistake.
            case.mask_resident_texts();
            case.contact = None;
            if let Some(place) = case.location.as_mut() {
                place.address = None;
            }
        }
        Ok(PublicPage { items, page, page_size, has_more })
    }

    async fn resident_case(&self, number: &str, phone: &str) -> Result<Case> {
        let not_found = || AppError::NotFound("request with this number and phone".into());
        let number = number.trim();
        let wanted = national_digits(phone);
        if number.is_empty() || wanted.len() < 3 {
            return Err(not_found());
        }
        let case = self.load_case_ref(&CaseRef::Number(number.to_string())).await.map_err(|_| not_found())?;
        let given = case.contact.as_ref().map(|c| national_digits(&c.phone)).unwrap_or_default();
        if given != wanted || case.number != number {
            return Err(not_found());
        }
        Ok(case)
    }

    async fn resident_move(&self, number: &str, phone: &str, mv: &Move, input: &MoveInput) -> Result<TrackedCase> {
        let case = self.resident_case(number, phone).await?;
        let relation = Relation { is_reporter: true, ..Relation::default() };
        let moved = self.apply_and_store(&case, mv, &Actor::resident(), relation, input).await?;
        let flow = self.store.flows(case.id).await?;
        self.tracked(moved, flow).await
    }

    async fn tracked(&self, case: Case, flow: Vec<(i64, FlowEntry)>) -> Result<TrackedCase> {
        let master = match case.master_id.filter(|_| case.state == State::Merged) {
            Some(id) => {
                let master = self.store.get_case(id).await?;
                Some((master.number, master.state))
            }
            None => None,
        };
        let closed = case.state == State::Closed;
        let allowed = cityloop_domain::workflow::allowed_moves(
            &case,
            &Actor::resident(),
            &Relation { is_reporter: true, ..Relation::default() },
        );
        Ok(TrackedCase {
            can_rate: closed && allowed.contains(&MoveKind::Rate),
            can_reopen: closed && allowed.contains(&MoveKind::Reopen),
            case,
            flow,
            master,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::national_digits;

    #[test]
    fn a_mobile_number_is_one_number_with_or_without_the_country_code() {
        for typed in
            ["+86 138-0000-6666", "008613800006666", "8613800006666", "138 0000 6666", "１３８００００６６６６"]
        {
            assert_eq!(national_digits(typed), "13800006666", "{typed}");
        }
        assert_eq!(national_digits("0571-8888 6666"), "057188886666", "a landline keeps its area code");
        assert_eq!(national_digits("86123"), "86123", "a short number is not a mobile with a country code");
    }
}
