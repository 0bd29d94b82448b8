package kapso

import (
	"github.com/kapso-bridge/kapso-bridge/shared/meta"
	"github.com/kapso-bridge/kapso-bridge/shared/rawjson"
)

// The readers below decode the payload types field by field: several times
// faster than reflection, and the phone-number events come one per message.
// TestReadersMatchEncodingJSON and FuzzReaders hold them to json.Unmarshal's
// results on the same input, so a field added to one of these types must be
// added here too (the test fails until it is).

func readMessageKapso(d *rawjson.Decoder, k *MessageKapso) {
	if !d.BeginObject("kapso.MessageKapso") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "direction":
			d.String(&k.Direction)
		case "status":
			d.String(&k.Status)
		case "processing_status":
			d.String(&k.ProcessingStatus)
		case "origin":
			d.String(&k.Origin)
		case "has_media":
			d.Bool(&k.HasMedia)
		case "content":
			d.String(&k.Content)
		case "statuses":
			readStatuses(d, &k.Statuses)
		case "media_url":
			d.String(&k.MediaURL)
		case "media_data":
			d.Raw(&k.MediaData)
		case "transcript":
			d.Raw(&k.Transcript)
		case "whatsapp_conversation_id":
			d.String(&k.WhatsAppConversationID)
		case "contact_name":
			d.String(&k.ContactName)
		default:
			d.Skip()
		}
	}
}

func readStatuses(d *rawjson.Decoder, dst *[]Status) {
	if d.Null() {
		*dst = nil
		return
	}
	if !d.BeginArray("[]kapso.Status") {
		return
	}
	s, n := *dst, 0
	for d.NextElem() {
		s = rawjson.Grow(s, n)
		meta.ReadStatus(d, &s[n])
		n++
	}
	*dst = rawjson.Trim(s, n)
}

func readMessage(d *rawjson.Decoder, m *Message) {
	if !d.BeginObject("kapso.Message") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "to":
			d.String(&m.To)
		case "to_user_id":
			d.String(&m.ToUserID)
		case "to_parent_user_id":
			d.String(&m.ToParentUserID)
		case "username":
			d.String(&m.Username)
		case "kapso":
			readMessageKapso(d, &m.Kapso)
		default:
			if !meta.ReadMessageField(d, &m.Message, key) {
				d.Skip()
			}
		}
	}
}

func readConversation(d *rawjson.Decoder, c *Conversation) {
	if !d.BeginObject("kapso.Conversation") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "id":
			d.String(&c.ID)
		case "phone_number":
			d.String(&c.PhoneNumber)
		case "business_scoped_user_id":
			d.String(&c.BusinessScopedUserID)
		case "parent_business_scoped_user_id":
			d.String(&c.ParentBusinessScopedUserID)
		case "username":
			d.String(&c.Username)
		case "status":
			d.String(&c.Status)
		case "last_active_at":
			d.String(&c.LastActiveAt)
		case "created_at":
			d.String(&c.CreatedAt)
		case "updated_at":
			d.String(&c.UpdatedAt)
		case "metadata":
			d.Raw(&c.Metadata)
		case "phone_number_id":
			d.String(&c.PhoneNumberID)
		case "kapso":
			d.Raw(&c.Kapso)
		default:
			d.Skip()
		}
	}
}

func readMessageEvent(d *rawjson.Decoder, ev *MessageEvent) {
	if !d.BeginObject("kapso.MessageEvent") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "message":
			readMessage(d, &ev.Message)
		case "conversation":
			readConversation(d, &ev.Conversation)
		case "is_new_conversation":
			d.Bool(&ev.IsNewConversation)
		case "phone_number_id":
			d.String(&ev.PhoneNumberID)
		default:
			d.Skip()
		}
	}
}

func readSinceMessage(d *rawjson.Decoder, m *SinceMessage) {
	if !d.BeginObject("kapso.SinceMessage") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "id":
			d.String(&m.ID)
		case "whatsapp_message_id":
			d.String(&m.WhatsAppMessageID)
		case "direction":
			d.String(&m.Direction)
		case "created_at":
			d.String(&m.CreatedAt)
		default:
			d.Skip()
		}
	}
}

func readInactivity(d *rawjson.Decoder, in *Inactivity) {
	if !d.BeginObject("kapso.Inactivity") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		if string(key) == "minutes" {
			d.Int(&in.Minutes)
		} else {
			d.Skip()
		}
	}
}

func readConversationEvent(d *rawjson.Decoder, ev *ConversationEvent) {
	if !d.BeginObject("kapso.ConversationEvent") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "conversation":
			readConversation(d, &ev.Conversation)
		case "phone_number_id":
			d.String(&ev.PhoneNumberID)
		case "since_message":
			if rawjson.Ptr(d, &ev.SinceMessage) {
				readSinceMessage(d, ev.SinceMessage)
			}
		case "inactivity":
			if rawjson.Ptr(d, &ev.Inactivity) {
				readInactivity(d, ev.Inactivity)
			}
		default:
			d.Skip()
		}
	}
}

func readContact(d *rawjson.Decoder, c *Contact) {
	if !d.BeginObject("kapso.Contact") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "id":
			d.String(&c.ID)
		case "wa_id":
			d.String(&c.WaID)
		case "business_scoped_user_id":
			d.String(&c.BusinessScopedUserID)
		case "parent_business_scoped_user_id":
			d.String(&c.ParentBusinessScopedUserID)
		case "username":
			d.String(&c.Username)
		case "profile_name":
			d.String(&c.ProfileName)
		default:
			d.Skip()
		}
	}
}

func readContactIdentity(d *rawjson.Decoder, c *ContactIdentity) {
	if !d.BeginObject("kapso.ContactIdentity") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "business_scoped_user_id":
			d.String(&c.BusinessScopedUserID)
		case "parent_business_scoped_user_id":
			d.String(&c.ParentBusinessScopedUserID)
		default:
			d.Skip()
		}
	}
}

func readContactIdentityChanged(d *rawjson.Decoder, ev *ContactIdentityChanged) {
	if !d.BeginObject("kapso.ContactIdentityChanged") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "contact":
			readContact(d, &ev.Contact)
		case "previous":
			readContactIdentity(d, &ev.Previous)
		case "phone_number_id":
			d.String(&ev.PhoneNumberID)
		default:
			d.Skip()
		}
	}
}

func readMarketingPreference(d *rawjson.Decoder, p *MarketingPreference) {
	if !d.BeginObject("kapso.MarketingPreference") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "status":
			d.String(&p.Status)
		case "previous_status":
			d.String(&p.PreviousStatus)
		case "occurred_at":
			d.String(&p.OccurredAt)
		case "sequence":
			d.Int64(&p.Sequence)
		default:
			d.Skip()
		}
	}
}

func readMarketingPreferenceChanged(d *rawjson.Decoder, ev *MarketingPreferenceChanged) {
	if !d.BeginObject("kapso.MarketingPreferenceChanged") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "contact":
			readContact(d, &ev.Contact)
		case "marketing_preference":
			readMarketingPreference(d, &ev.MarketingPreference)
		case "phone_number_id":
			d.String(&ev.PhoneNumberID)
		default:
			d.Skip()
		}
	}
}

func readProject(d *rawjson.Decoder, p *Project) {
	if !d.BeginObject("kapso.Project") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "id":
			d.String(&p.ID)
		case "name":
			d.String(&p.Name)
		case "description":
			d.String(&p.Description)
		case "created_at":
			d.String(&p.CreatedAt)
		case "updated_at":
			d.String(&p.UpdatedAt)
		default:
			d.Skip()
		}
	}
}

func readCustomer(d *rawjson.Decoder, c *Customer) {
	if !d.BeginObject("kapso.Customer") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "id":
			d.String(&c.ID)
		case "name":
			d.String(&c.Name)
		case "external_customer_id":
			d.String(&c.ExternalCustomerID)
		case "created_at":
			d.String(&c.CreatedAt)
		case "updated_at":
			d.String(&c.UpdatedAt)
		default:
			d.Skip()
		}
	}
}

func readSetupLink(d *rawjson.Decoder, l *SetupLink) {
	if !d.BeginObject("kapso.SetupLink") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "id":
			d.String(&l.ID)
		case "status":
			d.String(&l.Status)
		case "created_at":
			d.String(&l.CreatedAt)
		case "expires_at":
			d.String(&l.ExpiresAt)
		case "success_redirect_url":
			d.String(&l.SuccessRedirectURL)
		case "failure_redirect_url":
			d.String(&l.FailureRedirectURL)
		case "allowed_connection_types":
			d.Strings(&l.AllowedConnectionTypes)
		case "theme_config":
			d.Raw(&l.ThemeConfig)
		case "provision_phone_number":
			d.Bool(&l.ProvisionPhoneNumber)
		case "phone_number_area_code":
			d.String(&l.PhoneNumberAreaCode)
		case "phone_number_country_isos":
			d.Strings(&l.PhoneNumberCountryISOs)
		case "whatsapp_setup_status":
			d.String(&l.WhatsAppSetupStatus)
		case "whatsapp_setup_error":
			d.Raw(&l.WhatsAppSetupError)
		case "url":
			d.String(&l.URL)
		default:
			d.Skip()
		}
	}
}

func readPhoneNumberCreated(d *rawjson.Decoder, p *PhoneNumberCreated) {
	if !d.BeginObject("kapso.PhoneNumberCreated") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "phone_number_id":
			d.String(&p.PhoneNumberID)
		case "project":
			readProject(d, &p.Project)
		case "customer":
			readCustomer(d, &p.Customer)
		case "business_account_id":
			d.String(&p.BusinessAccountID)
		case "display_phone_number":
			d.String(&p.DisplayPhoneNumber)
		case "is_coexistence":
			d.BoolPtr(&p.IsCoexistence)
		case "setup_link":
			if rawjson.Ptr(d, &p.SetupLink) {
				readSetupLink(d, p.SetupLink)
			}
		default:
			d.Skip()
		}
	}
}

func readWhatsAppConfig(d *rawjson.Decoder, c *WhatsAppConfig) {
	if !d.BeginObject("kapso.WhatsAppConfig") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "id":
			d.String(&c.ID)
		case "name":
			d.String(&c.Name)
		case "phone_number_id":
			d.String(&c.PhoneNumberID)
		case "business_account_id":
			d.String(&c.BusinessAccountID)
		case "is_coexistence":
			d.Bool(&c.IsCoexistence)
		case "inbound_processing_enabled":
			d.Bool(&c.InboundProcessingEnabled)
		case "calls_enabled":
			d.Bool(&c.CallsEnabled)
		case "webhook_verified_at":
			d.String(&c.WebhookVerifiedAt)
		case "created_at":
			d.String(&c.CreatedAt)
		case "updated_at":
			d.String(&c.UpdatedAt)
		case "customer_id":
			d.String(&c.CustomerID)
		case "display_name":
			d.String(&c.DisplayName)
		case "display_phone_number":
			d.String(&c.DisplayPhoneNumber)
		case "display_phone_number_normalized":
			d.String(&c.DisplayPhoneNumberNormalized)
		default:
			d.Skip()
		}
	}
}

func readProvisionedNumber(d *rawjson.Decoder, n *ProvisionedNumber) {
	if !d.BeginObject("kapso.ProvisionedNumber") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "id":
			d.String(&n.ID)
		case "phone_number":
			d.String(&n.PhoneNumber)
		case "status":
			d.String(&n.Status)
		case "area_code":
			d.String(&n.AreaCode)
		case "country_iso":
			d.String(&n.CountryISO)
		case "country_dial_code":
			d.String(&n.CountryDialCode)
		case "provisioned_at":
			d.String(&n.ProvisionedAt)
		case "released_at":
			d.String(&n.ReleasedAt)
		case "display_number":
			d.String(&n.DisplayNumber)
		default:
			d.Skip()
		}
	}
}

func readCreationContext(d *rawjson.Decoder, c *CreationContext) {
	if !d.BeginObject("kapso.CreationContext") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "sandbox":
			d.Bool(&c.Sandbox)
		case "coexistence":
			d.Bool(&c.Coexistence)
		default:
			d.Skip()
		}
	}
}

func readConfigCreated(d *rawjson.Decoder, c *ConfigCreated) {
	if !d.BeginObject("kapso.ConfigCreated") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "whatsapp_config":
			readWhatsAppConfig(d, &c.WhatsAppConfig)
		case "project":
			readProject(d, &c.Project)
		case "customer":
			readCustomer(d, &c.Customer)
		case "setup_link":
			if rawjson.Ptr(d, &c.SetupLink) {
				readSetupLink(d, c.SetupLink)
			}
		case "phone_number":
			if rawjson.Ptr(d, &c.PhoneNumber) {
				readProvisionedNumber(d, c.PhoneNumber)
			}
		case "creation_context":
			readCreationContext(d, &c.CreationContext)
		default:
			d.Skip()
		}
	}
}

func readPhoneNumberLifecycle(d *rawjson.Decoder, p *PhoneNumberLifecycle) {
	if !d.BeginObject("kapso.PhoneNumberLifecycle") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "phone_number_id":
			d.String(&p.PhoneNumberID)
		case "business_account_id":
			d.String(&p.BusinessAccountID)
		case "display_phone_number":
			d.String(&p.DisplayPhoneNumber)
		case "reason":
			d.String(&p.Reason)
		case "customer":
			if rawjson.Ptr(d, &p.Customer) {
				readCustomer(d, p.Customer)
			}
		case "project":
			if rawjson.Ptr(d, &p.Project) {
				readProject(d, p.Project)
			}
		case "whatsapp_config":
			if rawjson.Ptr(d, &p.WhatsAppConfig) {
				readWhatsAppConfig(d, p.WhatsAppConfig)
			}
		default:
			d.Skip()
		}
	}
}

func readWorkflowEvent(d *rawjson.Decoder, w *WorkflowEvent) {
	if !d.BeginObject("kapso.WorkflowEvent") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "event":
			d.String(&w.Event)
		case "occurred_at":
			d.String(&w.OccurredAt)
		case "project_id":
			d.String(&w.ProjectID)
		case "workflow_id":
			d.String(&w.WorkflowID)
		case "workflow_execution_id":
			d.String(&w.WorkflowExecutionID)
		case "status":
			d.String(&w.Status)
		case "whatsapp_conversation_id":
			d.String(&w.WhatsAppConversationID)
		case "handoff":
			if rawjson.Ptr(d, &w.Handoff) {
				readWorkflowHandoff(d, w.Handoff)
			}
		case "error":
			if rawjson.Ptr(d, &w.Error) {
				readWorkflowError(d, w.Error)
			}
		default:
			d.Skip()
		}
	}
}

func readWorkflowHandoff(d *rawjson.Decoder, h *WorkflowHandoff) {
	if !d.BeginObject("kapso.WorkflowHandoff") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		switch string(key) {
		case "reason":
			d.String(&h.Reason)
		case "source":
			d.String(&h.Source)
		default:
			d.Skip()
		}
	}
}

func readWorkflowError(d *rawjson.Decoder, e *WorkflowError) {
	if !d.BeginObject("kapso.WorkflowError") {
		return
	}
	for key, ok := d.Field(); ok; key, ok = d.Field() {
		if string(key) == "message" {
			d.String(&e.Message)
		} else {
			d.Skip()
		}
	}
}
