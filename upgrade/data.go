package upgrade

// DataSchema is the data partition schema this firmware writes: the layout
// and format of config/, licenses/, hmd/ and instance/. A firmware that
// changes any of them raises it and migrates forward at boot; a bundle
// whose firmware reads an older schema than the partition holds is
// refused (see Policy).
const DataSchema = 1
