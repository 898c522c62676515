// Package appliance is the one owner of "who is this appliance, and may it
// take an HA role?". It sits above board, licensing, config and
// hwprofiles and below initagent, hmd and the commands, which all ask it
// instead of answering for themselves:
//
//   - identity (identity.go): the profile and the UDI, resolved by one
//     rule in one order — hafw.profile= on the kernel command line, else
//     the configuration's profile, else the image's profile file, else the
//     hardware — with board forming the UDI;
//   - entitlement (entitlement.go): the licenses installed for that
//     identity, verified, and whether they activate it;
//   - the role (role.go): DecideRole, a pure function of the
//     configuration, the entitlement, recovery mode and whether a pairing
//     is stored, giving the role actually taken and a typed Reason.
//
// The kernel command line's hafw.* switches are parsed here too
// (cmdline.go), since the profile override is one of them and the init
// agent, hmd and hafw must read it alike.
package appliance
