package wxpay

import "errors"

// CheckSubAppID is wechat_v2's and wechat_v3's check between sub_app_id and
// sub_mch_id (README Provider fields): a sub_app_id is the sub-merchant's
// mini program, which only service-provider mode, named by sub_mch_id, has.
func CheckSubAppID(provider, subAppID, subMchID string) error {
	if subAppID != "" && subMchID == "" {
		return errors.New(provider + ": sub_app_id needs sub_mch_id (service-provider mode)")
	}
	return nil
}
